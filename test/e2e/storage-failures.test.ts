/**
 * A storage that fails while a transfer is under way (an embedder's backend over a host directory
 * whose file is rotated away, an object body reset) fails that transfer alone: the reply says so,
 * the session and the server go on. Each failure here used to end the whole process.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { StorageError } from '../../src/errors.js';
import { mapFsError } from '../../src/storage/fs-errors.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Reply } from '../../src/protocol/reply.js';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import { waitEvent, withDeadline, type RawFtp } from '../support/raw-ftp.js';
import { loggedIn, randomData, textOf, useFerry, waitForLog, withClients } from './harness.js';

/**
 * A backend whose `/rotated.log` is read from a host directory it was rotated out of, `/reset.bin`
 * from a body the test fails, `/midfail.bin` from a disk failing after 192 KiB, and whose `/broken`
 * and `/refused` directories cannot be listed to their ends (an unknown error; one whose own reply
 * is 553). An upload to `/eio.bin` fails at its first chunk, one to
 * `/commit.bin` once it has all of it; one to `/held.bin` waits after its first chunk; ones to
 * `/denied.bin` (EROFS), `/expired.bin` (a credential's refusal), `/badname.bin` and `/full.bin`
 * are refused (550, 550, 553, 552) without reading.
 */
class FailingStorage extends MemoryStorage {
  hostDir = '';
  /** The last stream openRead gave. */
  opened: Readable | undefined;
  #heldNow = (): void => {};
  /** Resolves once an upload to `/held.bin` has its first chunk. */
  readonly held = new Promise<void>((resolve) => (this.#heldNow = resolve));

  override async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    const eio = (op: string): Error => new Error(`EIO: i/o error, ${op} /srv/disk0${p}`);
    if (p === '/eio.bin') await pipeline(src, new Writable({ write: (_b, _e, done) => done(eio('write')) }));
    if (p === '/commit.bin') {
      await pipeline(src, new Writable({ write: (_b, _e, done) => done() }));
      throw eio('fsync');
    }
    // A backend without prepareWrite refuses only once the data flows, after the 150.
    if (p === '/denied.bin')
      throw mapFsError(Object.assign(new Error('EROFS'), { code: 'EROFS' }), 'write', p);
    if (p === '/expired.bin') throw new StorageError('permission-denied', 'ExpiredToken'); // S3's: retried
    if (p === '/badname.bin') throw new StorageError('name-not-allowed', 'no such key allowed');
    if (p === '/full.bin') throw new StorageError('quota-exceeded', 'bucket full');
    if (p === '/held.bin') {
      const sink = new Writable({ write: () => this.#heldNow() }); // never done: waits for the network
      await pipeline(src, sink, { signal: c.signal });
    }
    return super.write(p, src, o, c);
  }

  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    // Gone since the stat: the stream reports it (ENOENT), a tick later.
    if (p === '/rotated.log') return (this.opened = createReadStream(path.join(this.hostDir, p)));
    if (p === '/reset.bin') return (this.opened = new PassThrough());
    if (p === '/midfail.bin') {
      let chunks = 0;
      return new Readable({
        read() {
          if (chunks++ < 3) this.push(Buffer.alloc(64 * 1024, 97));
          else this.destroy(new Error('EIO: i/o error, read /srv/disk0/midfail.bin'));
        },
      });
    }
    return super.openRead(p, o, c);
  }

  override async *list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    yield* super.list(dir, c);
    if (dir === '/broken') throw new Error('EIO: i/o error, scandir /srv/disk0/broken');
    if (dir === '/refused') throw new StorageError('name-not-allowed', 'Path too long.');
  }
}

/** Resolves once `s` has closed. Not events.once: its 'error' listener would hide the unhandled 'error' under test. */
function closed(s: Readable | undefined): Promise<void> {
  assert.ok(s);
  return new Promise((resolve) => (s.closed ? resolve() : s.on('close', resolve)));
}

/**
 * RETR `arg` whose storage stream has failed (`fail`) once the 150 is out and before the client's
 * data connection arrives: the final reply and the bytes that came.
 */
async function failedRetr(
  ftp: RawFtp,
  arg: string,
  fail: () => Promise<void>,
): Promise<{ r: Reply; bytes: number }> {
  const port = await ftp.epsv();
  await ftp.cmd(`RETR ${arg}`, 150);
  await fail();
  const conn = await ftp.openData(port, { tls: true });
  const bytes = (await ftp.readAll(conn)).length;
  const r = await ftp.expect();
  await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to close');
  return { r, bytes };
}

/** `line` (RETR, LIST…) with the data connection opened before: the final reply and the bytes that came. */
async function transfer(ftp: RawFtp, line: string): Promise<{ r: Reply; bytes: number }> {
  const conn = await ftp.openData(await ftp.epsv(), { tls: true });
  await ftp.cmd(line, 150);
  const bytes = (await ftp.readAll(conn)).length;
  const r = await ftp.expect();
  await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to close');
  return { r, bytes };
}

describe('a storage that fails during a transfer', { timeout: 60_000 }, () => {
  const storage = new FailingStorage({
    files: {
      '/rotated.log': 'old lines\n',
      '/reset.bin': 'abc',
      '/midfail.bin': new Uint8Array(300_000),
      '/big.bin': randomData(32 * 1024 * 1024),
      '/broken/a.txt': 'a',
      '/refused/a.txt': 'a',
    },
  });
  before(async () => {
    storage.hostDir = await mkdtemp(path.join(os.tmpdir(), 'ferry-rotated-'));
  });
  after(() => rm(storage.hostDir, { recursive: true, force: true }));
  const server = useFerry({ storageFor: () => storage });

  test('a file gone since its stat: 451 saying so for that RETR, the session and the server go on', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const { r, bytes } = await failedRetr(ftp, 'rotated.log', () => closed(storage.opened));
      // After its 150, RFC 959 5.4 allows no 550: the code is 451, the text the storage's own.
      assert.equal(`${r.code} ${textOf(r)}`, '451 No such file or directory.');
      assert.equal(bytes, 0);
      await ftp.cmd('PWD', 257);
      const other = track(await loggedIn(server(), 'explicit'));
      await other.cmd('NOOP', 200);
    });
  });

  test('a body reset while the client connects: that RETR fails, nothing of it delivered', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const { r, bytes } = await failedRetr(ftp, 'reset.bin', () => {
        const body = storage.opened;
        body?.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        return closed(body);
      });
      assert.equal(`${r.code} ${textOf(r)}`, '451 Transfer aborted: the server could not read the file.');
      assert.equal(bytes, 0);
      await ftp.cmd('PWD', 257);
    });
  });

  test('a read that fails mid-file: 451 saying so (not a broken data connection), logged with its cause', async () => {
    await withClients(async (track) => {
      const from = server().logs.length;
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const { r, bytes } = await transfer(ftp, 'RETR midfail.bin');
      assert.equal(`${r.code} ${textOf(r)}`, '451 Transfer aborted: the server could not read the file.');
      assert.ok(bytes <= 192 * 1024, `${bytes} bytes`);
      const line = await waitForLog(server(), (l) => l.msg.startsWith('transfer failed'), from);
      assert.equal(line.level, 'warn');
      assert.equal(line.msg, 'transfer failed: the server could not read the file');
      assert.match(JSON.stringify(line.obj), /"err":"EIO: i\/o error, read \/srv\/disk0\/midfail.bin"/);
      await ftp.cmd('PWD', 257);
    });
  });

  for (const [verb, dir] of ['LIST', 'MLSD', 'NLST'].flatMap((v) => [
    [v, 'broken'],
    [v, 'refused'],
  ])) {
    test(`a ${verb} whose storage fails mid-listing (${dir}): 451 saying so (after a 150, not 553)`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), 'explicit'));
        const { r } = await transfer(ftp, `${verb} ${dir}`);
        assert.equal(
          `${r.code} ${textOf(r)}`,
          '451 Transfer aborted: the server could not list the directory.',
        );
        await ftp.cmd('PWD', 257);
      });
    });
  }

  test('a client that cuts its data connection mid-RETR still gets 426: the network failed', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const conn = await ftp.openData(await ftp.epsv(), { tls: true });
      const first = waitEvent(conn.stream, 'data');
      conn.stream.resume();
      await ftp.cmd('RETR big.bin', 150);
      await first;
      conn.stream.pause(); // the server waits, mid-file, to send more
      conn.raw.resetAndDestroy();
      const r = await ftp.expect();
      assert.equal(`${r.code} ${textOf(r)}`, '426 Data connection closed; transfer aborted.');
      await ftp.cmd('PWD', 257);
    });
  });

  test('a STOR whose storage fails mid-upload: 451 saying so (not a broken data connection), logged with its cause', async () => {
    await withClients(async (track) => {
      const from = server().logs.length;
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const conn = await ftp.openData(await ftp.epsv(), { tls: true });
      await ftp.cmd('STOR eio.bin', 150);
      conn.stream.resume();
      conn.stream.write(randomData(1024 * 1024), () => {}); // cut by the server once its storage failed
      const r = await ftp.expect();
      assert.equal(`${r.code} ${textOf(r)}`, '451 Transfer aborted: the server could not write the file.');
      const line = await waitForLog(server(), (l) => l.msg.startsWith('transfer failed'), from);
      assert.equal(line.msg, 'transfer failed: the server could not write the file');
      assert.match(JSON.stringify(line.obj), /"err":"EIO: i\/o error, write \/srv\/disk0\/eio.bin"/);
      await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to close');
      await ftp.cmd('PWD', 257);
    });
  });

  test('a STOR whose storage fails once it has every byte (its commit): 451 too', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const [, r] = await ftp.store('commit.bin', randomData(100_000));
      assert.equal(`${r.code} ${textOf(r)}`, '451 Transfer aborted: the server could not write the file.');
      await ftp.cmd('PWD', 257);
    });
  });

  test('a STOR its storage refuses once the data flows: its text, with 551 for what the filesystem refuses for good and 451 for other 550s and 553 (after a 150), 552 kept', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      for (const [name, expected] of [
        ['denied.bin', '551 Permission denied.'],
        ['expired.bin', '451 Permission denied.'],
        ['badname.bin', '451 File name not allowed.'],
        ['full.bin', '552 Insufficient storage space.'],
      ] as const) {
        const conn = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd(`STOR ${name}`, 150);
        conn.stream.resume();
        conn.stream.end(Buffer.from('x'), () => {}); // perhaps cut by the server, which needs none of it
        const r = await ftp.expect();
        assert.equal(`${r.code} ${textOf(r)}`, expected);
        await withDeadline(conn.closed, ftp.timeoutMs, 'the data connection to close');
      }
      await ftp.cmd('PWD', 257);
    });
  });

  test('a client that resets its data connection mid-STOR still gets 426: the network failed', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const conn = await ftp.openData(await ftp.epsv(), { tls: true });
      await ftp.cmd('STOR held.bin', 150);
      conn.stream.resume();
      conn.stream.write(randomData(300_000), () => {});
      await storage.held; // storage is reading: the reset comes mid-upload
      conn.raw.resetAndDestroy();
      const r = await ftp.expect();
      assert.equal(r.code, 426, textOf(r));
      await ftp.cmd('PWD', 257);
    });
  });
});
