/**
 * A storage call that never answers (an embedder's MKD stuck on a dead backend) must not hold the
 * session forever: after `timeouts.commandMs` the session ends with 421, its QUIT queued behind the
 * command gets that answer instead of waiting, the session's counters are released (the server's
 * leak check after the suite), and other sessions go on. Calls that still move are not cut: HASH and
 * SIZE in TYPE A as they read, a HASH waiting its turn while the one ahead of it reads, a TYPE A
 * RETR restarted past the size on disk as it counts, a listing with a pattern through batches it
 * shows nothing of, the quota scan of a home (and the uploads waiting for it), an APPE waiting for another session's APPE of the same file while that one's
 * bytes arrive. A transfer is bounded until its 150 (its file opened, its listing begun, its upload's
 * target checked), and not after: a RETR whose bytes come further apart than the limit is not cut.
 * Storage that freezes after the 150 is not waited for once the data connection is cut: the client
 * gets its 426 and the session goes on.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { UsageFile } from '../../src/auth/usage-file.js';
import { GATHER_BYTES } from '../../src/server/gathered-upload.js';
import { withLimits } from '../../src/storage/limited.js';
import { LocalStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import type { FileSource, FileStat, PreparedWrite, StorageContext, VPath } from '../../src/storage/types.js';
import { UploadLocks } from '../../src/storage/upload-locks.js';
import { warmedUsers } from '../support/ferry.js';
import { withDeadline, writeAll, type DataConnection, type RawFtp } from '../support/raw-ftp.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

// PASS is bounded by the command time limit too: no scrypt within its 0.4 s.
const warm = await warmedUsers();
const COMMAND_MS = 400;
const SLOW_CHUNKS = 12;

/** Resolves after `ms`: the pace of a storage or a client that is slow but moving. */
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * MKD never settles (but of `frozen`, whose listing never does, `many`, and `half`, whose listing
 * gives its first batch and then never another); a file named `slow…`
 * is read 1 KiB per COMMAND_MS / 4; `gaps.bin` 1 KiB per 1.5 periods. `many` lists one entry per
 * COMMAND_MS / 4, its `.csv` names last. Renaming `moving` reports a step (an S3 rename's object
 * copied) per COMMAND_MS / 4, three periods in all; renaming `held` waits for `release` without a
 * word, then renames. Opening `stuck.bin` waits for `reading` to be answered with a stream; with
 * `holdUploads`, an upload's target check waits for `preparing`.
 */
class StuckStorage extends MemoryStorage {
  held: { signal: AbortSignal; release: () => void } | undefined;
  /** Told when an MKD reaches the storage. */
  onMkdir: (() => void) | undefined;
  reading: ((src: FileSource) => void) | undefined;
  holdUploads = false;
  preparing: (() => void) | undefined;
  /** The last upload target checked: released once the upload gave it up unused. */
  prepared: { released: boolean } | undefined;

  override mkdir(p: VPath, c: StorageContext): Promise<void> {
    if (['/frozen', '/many', '/half'].some((name) => p.endsWith(name))) return super.mkdir(p, c);
    this.onMkdir?.();
    return new Promise<void>(() => {});
  }

  override list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    if (dir.endsWith('/many')) return slowBatches(super.list(dir, c));
    if (dir.endsWith('/half')) return firstBatchOnly(super.list(dir, c));
    if (!dir.endsWith('/frozen')) return super.list(dir, c);
    return (async function* () {
      yield await new Promise<FileStat[]>(() => {});
    })();
  }

  override async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    if (this.holdUploads) await new Promise<void>((go) => (this.preparing = go));
    const prepared = await super.prepareWrite(p, o, c);
    const seen = { released: false };
    this.prepared = seen;
    return {
      write: (src, c2) => prepared.write(src, c2),
      release: () => ((seen.released = true), prepared.release()),
    };
  }

  override async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    if (from.endsWith('/moving')) {
      for (let step = 0; step < SLOW_CHUNKS; step++) {
        await new Promise((resolve) => setTimeout(resolve, COMMAND_MS / 4));
        c.progress?.();
      }
    } else if (from.endsWith('/held')) {
      await new Promise<void>((release) => (this.held = { signal: c.signal, release }));
    }
    return super.rename(from, to, c);
  }

  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    if (p.endsWith('/stuck.bin')) return new Promise<FileSource>((answer) => (this.reading = answer));
    const name = p.slice(p.lastIndexOf('/') + 1);
    const gap = name === 'gaps.bin' ? COMMAND_MS * 1.5 : name.startsWith('slow') ? COMMAND_MS / 4 : 0;
    if (!gap) return super.openRead(p, o, c);
    const data = Buffer.concat(await collected<Buffer>(await super.openRead(p, o, c)));
    return Readable.from(
      (async function* () {
        for (let at = 0; at < data.length; at += 1024) {
          await pause(gap);
          yield data.subarray(at, at + 1024);
        }
      })(),
    ) as FileSource;
  }
}

async function collected<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The first entry, then a listing that never goes on. */
async function* firstBatchOnly(batches: AsyncIterable<readonly FileStat[]>): AsyncGenerator<FileStat[]> {
  const [first] = (await collected(batches)).flat();
  if (first) yield [first];
  yield await new Promise<FileStat[]>(() => {});
}

/** One entry per batch, a batch per COMMAND_MS / 4, names ending `.csv` last. */
async function* slowBatches(batches: AsyncIterable<readonly FileStat[]>): AsyncGenerator<FileStat[]> {
  const all = (await collected(batches)).flat();
  const csvLast = (e: FileStat): number => (e.name.endsWith('.csv') ? 1 : 0);
  for (const e of all.sort((a, b) => csvLast(a) - csvLast(b))) {
    await pause(COMMAND_MS / 4);
    yield [e];
  }
}

describe('a command whose storage call never answers', { timeout: 60_000 }, () => {
  const storage = new StuckStorage();
  const server = useFerry({
    storageFor: () => storage,
    authenticator: warm,
    timeouts: { commandMs: COMMAND_MS },
  });

  test('MKD: 421 once timeouts.commandMs has passed, QUIT queued behind it does not wait forever; other sessions go on', async () => {
    await withClients(async (track) => {
      const other = track(await loggedIn(server(), 'explicit'));
      const stuck = track(await loggedIn(server(), 'implicit'));
      const from = server().logs.length;
      stuck.send('MKD dir');
      stuck.send('QUIT');
      const r = await stuck.expect(421, COMMAND_MS * 20);
      assert.match(textOf(r), /MKD did not finish in 0\.4 s/);
      const line = await waitForLog(
        server(),
        (l) => l.msg === 'command did not finish in time: closing',
        from,
      );
      assert.equal(line.level, 'warn');
      assert.equal((line.obj as { command?: string }).command, 'MKD');
      await other.cmd('NOOP', 200);
      await other.cmd('PWD', 257);
    });
  });

  test('a rename still reporting its steps (an S3 rename copying objects) is not cut', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('moving', Buffer.from('x'));
      await ftp.cmd('RNFR moving', 350);
      await ftp.cmd('RNTO moved', 250);
      await ftp.cmd('SIZE moved', 213);
    });
  });

  test('the limit ends the session but leaves a rename still working to finish, not aborted halfway', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('held', Buffer.from('y'));
      const from = server().logs.length;
      await ftp.cmd('RNFR held', 350);
      ftp.send('RNTO kept');
      assert.match(textOf(await ftp.expect(421, COMMAND_MS * 20)), /RNTO did not finish/);
      await waitForLog(server(), (l) => l.msg === 'disconnect', from);
      const held = storage.held;
      assert.ok(held, 'the rename started');
      assert.equal(held.signal.aborted, false, 'the rename in flight was aborted');
      held.release();
      const done = await waitForLog(
        server(),
        (l) => l.msg === 'command left to finish after its time limit has finished',
        from,
      );
      assert.equal((done.obj as { reply?: number }).reply, 250);
      assert.equal(held.signal.aborted, true, 'the session signal aborts once the call settled');
      const other = track(await loggedIn(server(), 'explicit'));
      await other.cmd('SIZE kept', 213);
    });
  });

  test('a client gone during a stuck command hears of no time limit after its disconnect', async () => {
    await withClients(async (track) => {
      const gone = await loggedIn(server(), 'explicit');
      const from = server().logs.length;
      const stuck = new Promise<void>((resolve) => (storage.onMkdir = resolve));
      gone.send('MKD lost');
      await stuck;
      storage.onMkdir = undefined;
      await gone.close();
      const disconnect = await waitForLog(server(), (l) => l.msg === 'disconnect', from);
      const session = (disconnect.obj as { session?: string }).session;
      // A later session's identical limit fires after the gone one's would have.
      const clock = track(await loggedIn(server(), 'explicit'));
      clock.send('MKD clock');
      await clock.expect(421, COMMAND_MS * 20);
      const late = server()
        .logs.slice(from)
        .filter((l) => (l.obj as { session?: string }).session === session);
      assert.deepEqual(
        late.map((l) => l.msg),
        ['disconnect'],
      );
    });
  });

  test('HASH, and SIZE in TYPE A, of a file read over three periods are not cut while they read', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('slow.bin', Buffer.alloc(SLOW_CHUNKS * 1024, 1));
      const r = await ftp.cmd('HASH slow.bin');
      assert.equal(r.code, 213, textOf(r));
      await ftp.cmd('TYPE A', 200);
      assert.equal(textOf(await ftp.cmd('SIZE slow.bin', 213)), String(SLOW_CHUNKS * 1024));
      await ftp.cmd('NOOP', 200);
    });
  });

  test('RETR whose file never opens: 421, its data connection let go, other sessions go on; what it opens late is closed', async () => {
    await withClients(async (track) => {
      const other = track(await loggedIn(server(), 'explicit'));
      const stuck = track(await loggedIn(server(), 'implicit'));
      await stuck.store('stuck.bin', Buffer.from('file'));
      const conn = await stuck.openData(await stuck.epsv(), { tls: stuck.dataTls });
      const from = server().logs.length;
      stuck.send('RETR stuck.bin');
      stuck.send('ABOR'); // waits its turn behind the RETR, as ever: the 421 ends both
      assert.match(textOf(await stuck.expect(421, COMMAND_MS * 20)), /RETR did not finish in 0\.4 s/);
      const line = await waitForLog(
        server(),
        (l) => l.msg === 'command did not finish in time: closing',
        from,
      );
      assert.equal((line.obj as { command?: string }).command, 'RETR');
      await withDeadline(stuckClosed(stuck, conn), COMMAND_MS * 20, 'the data connection to close');
      await other.cmd('NOOP', 200);
      assert.match(await other.listing('NLST'), /stuck\.bin/);
      // The storage answers at last: the stream it opened is closed, no transfer starts.
      const late = Readable.from([Buffer.from('late')]) as FileSource;
      late.on('error', () => {}); // closing it early is an error (premature close) to drop
      const closed = new Promise((resolve) => late.once('close', resolve));
      assert.ok(storage.reading, 'the RETR reached openRead');
      storage.reading(late);
      storage.reading = undefined;
      const done = await waitForLog(
        server(),
        (l) => l.msg === 'command left to finish after its time limit has finished',
        from,
      );
      assert.equal((done.obj as { command?: string }).command, 'RETR');
      await withDeadline(closed, COMMAND_MS * 20, 'the stream opened after the limit to be closed');
    });
  });

  test('RETR whose file opens after the 421, its client still connected: nothing is sent', async () => {
    await withClients(async (track) => {
      const stuck = track(await loggedIn(server(), 'implicit'));
      // This client does not close its side when the server closes its own (as a client that has
      // not read the 421 yet): the session is not over until it does.
      for (const s of [stuck.socket, stuck.controlTls]) if (s) s.allowHalfOpen = true;
      await stuck.store('stuck.bin', Buffer.from('file'));
      const conn = await stuck.openData(await stuck.epsv(), { tls: stuck.dataTls });
      const from = server().logs.length;
      stuck.send('RETR stuck.bin');
      assert.match(textOf(await stuck.expect(421, COMMAND_MS * 20)), /RETR did not finish/);
      const late = Readable.from([Buffer.from('late')]) as FileSource;
      late.on('error', () => {});
      assert.ok(storage.reading, 'the RETR reached openRead');
      storage.reading(late);
      storage.reading = undefined;
      assert.equal((await stuck.readAll(conn)).toString(), '', 'bytes sent after the 421');
      await waitForLog(
        server(),
        (l) => l.msg === 'command left to finish after its time limit has finished',
        from,
      );
      assert.deepEqual(
        server()
          .logs.slice(from)
          .filter((l) => l.msg === 'transfer'),
        [],
      );
    });
  });

  test('STOR whose target check never answers: 421; the file there stays, its target is let go', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('kept.txt', Buffer.from('old'));
      const from = server().logs.length;
      storage.holdUploads = true;
      try {
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        ftp.send('STOR kept.txt');
        assert.match(textOf(await ftp.expect(421, COMMAND_MS * 20)), /STOR did not finish in 0\.4 s/);
        await withDeadline(stuckClosed(ftp, conn), COMMAND_MS * 20, 'the data connection to close');
        await waitForLog(server(), (l) => l.msg === 'disconnect', from);
      } finally {
        storage.holdUploads = false;
      }
      assert.ok(storage.preparing, 'the STOR reached prepareWrite');
      storage.preparing();
      storage.preparing = undefined;
      await waitForLog(
        server(),
        (l) => l.msg === 'command left to finish after its time limit has finished',
        from,
      );
      assert.equal(storage.prepared?.released, true, 'the target checked late was not let go');
      const other = track(await loggedIn(server(), 'explicit'));
      assert.equal((await other.retrieve('kept.txt')).toString(), 'old');
    });
  });

  test('LIST whose listing never begins: 421', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD frozen', 257);
      const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
      ftp.send('LIST frozen');
      assert.match(textOf(await ftp.expect(421, COMMAND_MS * 20)), /LIST did not finish in 0\.4 s/);
      await withDeadline(stuckClosed(ftp, conn), COMMAND_MS * 20, 'the data connection to close');
    });
  });

  test('after its 150, a transfer waiting for its data connection is not cut: its timeouts govern', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('late.bin', Buffer.from('late'));
      const port = await ftp.epsv();
      await ftp.cmd('RETR late.bin', 150);
      // Another session's limit, started after that 150, expires: the 150 is older than the limit.
      const clock = track(await loggedIn(server(), 'explicit'));
      clock.send('MKD clock');
      await clock.expect(421, COMMAND_MS * 20);
      const conn = await ftp.openData(port, { tls: ftp.dataTls });
      assert.equal((await ftp.readAll(conn)).toString(), 'late');
      await ftp.expect(226);
    });
  });

  test('a RETR whose bytes come further apart than the limit after its 150 is not cut: the limit ended at its 150', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      // Nothing counted before the 150, and no byte for 1.5 periods after it, twice.
      await ftp.store('gaps.bin', Buffer.alloc(2 * 1024, 1));
      assert.equal((await ftp.retrieve('gaps.bin')).length, 2 * 1024);
      await ftp.cmd('NOOP', 200);
    });
  });

  test('NLST with a pattern over many batches it shows nothing of, for three periods, is not cut', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD many', 257);
      for (let i = 0; i < SLOW_CHUNKS; i++) await ftp.store(`many/f${i}.txt`, Buffer.from('x'));
      await ftp.store('many/z.csv', Buffer.from('z'));
      const names = (await ftp.listing('NLST', 'many/*.csv')).split('\r\n').filter(Boolean);
      assert.deepEqual(names, ['many/z.csv']);
      await ftp.cmd('NOOP', 200);
    });
  });

  test('STAT of a directory sent in many batches over three periods is not cut', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD many');
      for (let i = 0; i < SLOW_CHUNKS; i++) await ftp.store(`many/f${i}.txt`, Buffer.from('x'));
      const r = await ftp.cmd('STAT many', 212);
      const names = r.lines.filter((l) => /f\d+\.txt$/.test(l));
      assert.equal(names.length, SLOW_CHUNKS, textOf(r));
      assert.equal(r.lines.at(-1), 'End of status.');
      await ftp.cmd('NOOP', 200);
    });
  });

  test('STAT whose listing stops halfway: its 212 reply is ended before the 421', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD half', 257);
      await ftp.store('half/a.txt', Buffer.from('a'));
      await ftp.store('half/b.txt', Buffer.from('b'));
      // -U: the directory's own order, each batch sent as read (sorted, none would be sent before
      // the storage's last); the sorted case is the same but for the lines.
      const r = await ftp.cmd('STAT -U half', 212);
      assert.ok(
        r.lines.some((l) => l.endsWith('a.txt')),
        textOf(r),
      );
      assert.match(r.lines.at(-1) ?? '', /cut by the command time limit/);
      assert.match(textOf(await ftp.expect(421)), /STAT did not finish in 0\.4 s/);
    });
  });

  test('TYPE A RETR restarted past the size on disk, of a file read over three periods, is not cut', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      // 12 KiB on disk, 18 KiB in TYPE A (a CR before each LF): REST past 12 KiB reads the whole
      // file to count its line ends before the 150.
      const lines = Buffer.from('a\n'.repeat((SLOW_CHUNKS * 1024) / 2));
      await ftp.store('slow-lines.txt', lines);
      await ftp.cmd('TYPE A', 200);
      await ftp.cmd(`REST ${lines.length + 1024}`, 350);
      const rest = await ftp.retrieve('slow-lines.txt');
      assert.equal(rest.length, lines.length / 2 - 1024);
      await ftp.cmd('TYPE I', 200);
    });
  });
});

describe('a HASH waiting its turn (maxHashes 1)', { timeout: 60_000 }, () => {
  const storage = new StuckStorage();
  const server = useFerry({
    storageFor: () => storage,
    authenticator: warm,
    timeouts: { commandMs: COMMAND_MS },
    limits: { maxHashes: 1 },
  });

  test('is not cut while the HASH ahead of it reads, for three periods', async () => {
    await withClients(async (track) => {
      const a = track(await loggedIn(server(), 'explicit'));
      const b = track(await loggedIn(server(), 'implicit'));
      await a.store('slow.bin', Buffer.alloc(SLOW_CHUNKS * 1024, 1));
      const from = server().logs.length;
      // One of them reads (three periods), the other waits for the one slot all that time.
      const [ra, rb] = await Promise.all([a.cmd('HASH slow.bin'), b.cmd('HASH slow.bin')]);
      assert.equal(ra.code, 213, textOf(ra));
      assert.equal(rb.code, 213, textOf(rb));
      assert.ok(
        server()
          .logs.slice(from)
          .some((l) => l.msg === 'HASH waits for its turn'),
        'neither HASH waited',
      );
    });
  });
});

/** Every listing begins COMMAND_MS / 4 late: a scan of a home of SLOW_CHUNKS folders takes three periods. */
class SlowListing extends MemoryStorage {
  override list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    const batches = super.list(dir, c);
    return (async function* () {
      await pause(COMMAND_MS / 4);
      yield* batches;
    })();
  }
}

describe("a quota scan of a large home on a user's first uploads", { timeout: 60_000 }, () => {
  const files = Object.fromEntries(Array.from({ length: SLOW_CHUNKS }, (_, i) => [`d${i}/f`, 'x']));
  const storage = new SlowListing({ files });
  let dir: string;
  let book: QuotaBook;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-command-timeout-'));
    book = new QuotaBook(new UsageFile(path.join(dir, 'usage.json')));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const server = useFerry(() => ({
    storageFor: (p) =>
      withLimits(
        storage,
        { username: p.username, quotaSize: 1024 * 1024 },
        { usage: book, rates: new RateBuckets() },
      ),
    authenticator: warm,
    timeouts: { commandMs: COMMAND_MS },
  }));

  test('two uploads waiting for one scan that moves for three periods: neither is cut', async () => {
    await withClients(async (track) => {
      const a = track(await loggedIn(server(), 'explicit'));
      const b = track(await loggedIn(server(), 'explicit'));
      // One of them scans the home (before its 150); the other waits for that scan.
      const [[, ra], [, rb]] = await Promise.all([
        a.store('a.txt', Buffer.from('a')),
        b.store('b.txt', Buffer.from('b')),
      ]);
      assert.equal(ra.code, 226, textOf(ra));
      assert.equal(rb.code, 226, textOf(rb));
    });
  });
});

describe("an APPE waiting for another session's APPE of the same file", { timeout: 60_000 }, () => {
  const locks = new UploadLocks(); // one for all sessions, as `ferry serve` has
  const server = useFerry({
    storageFor: (p) => new LocalStorage({ root: p.home, locks }),
    timeouts: { commandMs: COMMAND_MS },
  });

  test('is not cut while the other upload moves, for three periods', async () => {
    await withClients(async (track) => {
      const a = track(await loggedIn(server(), 'explicit'));
      const b = track(await loggedIn(server(), 'explicit'));
      await a.store('shared.txt', Buffer.from('old'));
      const connA = await a.openData(await a.epsv(), { tls: a.dataTls });
      await a.cmd('APPE shared.txt', 150);
      const connB = await b.openData(await b.epsv(), { tls: b.dataTls });
      b.send('APPE shared.txt'); // waits for a's upload to end, before its 150
      connA.stream.resume();
      // A chunk of the size the server hands storage at a time, per COMMAND_MS / 4.
      const piece = Buffer.alloc(GATHER_BYTES, 'a');
      for (let i = 0; i < SLOW_CHUNKS; i++) {
        await writeAll(connA.stream, piece);
        await pause(COMMAND_MS / 4);
      }
      connA.stream.end();
      await connA.closed;
      await a.expect(226);
      await b.expect(150);
      await b.uploadClean(connB, Buffer.from('b'));
      await b.expect(226);
      const kept = await readFile(path.join(server().root, 'shared.txt'));
      assert.equal(kept.length, 3 + SLOW_CHUNKS * GATHER_BYTES + 1);
      assert.equal(kept.subarray(-1).toString(), 'b');
    });
  });
});

/** The data connection, opened before a transfer that the server gave up, ends without a byte. */
async function stuckClosed(ftp: RawFtp, conn: DataConnection): Promise<void> {
  assert.equal((await ftp.readAll(conn)).length, 0);
  await conn.closed;
}

/** Long enough for a data connection's TLS handshake on a busy machine. */
const DATA_IDLE_MS = 1500;

/**
 * Storage that stops answering once a transfer's 150 is out (a frozen mount) until `freeze()`'s
 * thaw: an upload to `hang.txt` reads nothing and only then writes what it was given (a stat of
 * the file waits too, once that write began); a download of `hang.bin` reads nothing, and its source
 * only then finishes closing.
 */
class FrozenAfterOpening extends MemoryStorage {
  private frozen: Promise<void> = Promise.resolve();
  /** The upload's write, as it settles after the thaw. */
  written: Promise<{ bytes: number }> | undefined;
  /** What a stat of `hang.txt` waits for. */
  private statsWait: Promise<void> = Promise.resolve();
  /** The download's source, which closes only after the thaw. */
  source: Readable | undefined;

  /** Freezes what comes next; returns the thaw. */
  freeze(): () => void {
    let thaw!: () => void;
    this.frozen = new Promise<void>((resolve) => (thaw = resolve));
    return thaw;
  }

  override async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    const prepared = await super.prepareWrite(p, o, c);
    if (!p.endsWith('/hang.txt')) return prepared;
    const frozen = this.frozen;
    return {
      write: (src, c2) => {
        this.statsWait = frozen;
        this.written = frozen.then(() => prepared.write(src, c2));
        return this.written;
      },
      release: () => prepared.release(),
    };
  }

  override async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    if (p.endsWith('/hang.txt')) await this.statsWait;
    return super.stat(p, c);
  }

  override openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    if (!p.endsWith('/hang.bin')) return super.openRead(p, o, c);
    const frozen = this.frozen;
    this.source = new Readable({
      read() {},
      destroy(err, done) {
        void frozen.then(() => done(err));
      },
    });
    return Promise.resolve(this.source as FileSource);
  }
}

describe('a transfer whose storage freezes after its 150', { timeout: 60_000 }, () => {
  const storage = new FrozenAfterOpening();
  const server = useFerry({ storageFor: () => storage, timeouts: { dataIdleMs: DATA_IDLE_MS } });

  test('STOR: the data idle timeout brings its 426 at once, the session goes on; thawed, nothing is stored', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('hang.txt', Buffer.from('old'));
      const thaw = storage.freeze();
      try {
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        conn.stream.on('error', () => {}); // the server cuts it
        await ftp.cmd('STOR hang.txt', 150);
        conn.stream.resume();
        conn.stream.write(Buffer.alloc(1024, 'n')); // then nothing more, and no end
        assert.match(textOf(await ftp.expect(426)), /transfer aborted/);
        await withDeadline(conn.closed, COMMAND_MS * 20, 'the data connection to close');
        await ftp.cmd('NOOP', 200);
      } finally {
        thaw();
      }
      const written = storage.written;
      assert.ok(written, 'the STOR reached the storage write');
      await assert.rejects(written, 'an upload cut by its data connection was committed');
      assert.equal((await ftp.retrieve('hang.txt')).toString(), 'old');
      await ftp.quit();
    });
  });

  test('RETR: the data idle timeout brings its 451 (storage gave nothing) at once, the session goes on; thawed, the source closes', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      await ftp.store('hang.bin', Buffer.from('file'));
      const thaw = storage.freeze();
      try {
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        conn.stream.on('error', () => {}); // the server cuts it
        await ftp.cmd('RETR hang.bin', 150);
        assert.equal((await ftp.readAll(conn)).length, 0);
        assert.match(textOf(await ftp.expect(451)), /Storage temporarily unavailable/);
        await ftp.cmd('NOOP', 200);
      } finally {
        thaw();
      }
      const source = storage.source;
      assert.ok(source, 'the RETR opened its file');
      if (!source.closed) await new Promise((resolve) => source.once('close', resolve));
      await ftp.quit();
    });
  });
});
