// LocalStorage specifics: the jail (symlinks, traversal), temp files, host paths kept out of messages.
import assert from 'node:assert/strict';
import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile as readHost,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { replyForError, StorageError } from '../errors.js';
import { LocalStorage } from './local.js';
import { newTempName, sweepStaleUploads } from './upload-temp.js';
import { scanUsage } from './quota.js';
import {
  LONG_TOP,
  ctx,
  deepTree,
  failingSource,
  listed,
  names,
  put,
  readFile,
  rejectsKind,
  source,
  undoHostDeepTree,
  v,
} from './test-support.js';
import type { FileStat, StorageContext } from './types.js';
import { ROOT, resolveVPath } from './virtual-path.js';

interface Jail {
  root: string;
  outside: string;
  s: LocalStorage;
}

/** root/ with a file, a link leading outside (dir and file), a link leading inside; outside/ with a secret. */
async function jail(t: TestContext, borrowWorkingDirectory = false): Promise<Jail> {
  const base = await mkdtemp(join(tmpdir(), 'ferry-local-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'real'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'secret');
  await writeFile(join(root, 'real', 'x.txt'), 'inside');
  await symlink(outside, join(root, 'out'));
  await symlink(join(outside, 'secret.txt'), join(root, 'secret-link'));
  await symlink(join(root, 'real'), join(root, 'alias'));
  return { root, outside, s: new LocalStorage({ root, borrowWorkingDirectory }) };
}

// Both ways a listing can look entries up: through the directory's magic link, or from inside it.
for (const borrow of [false, true]) {
  describe(`LocalStorage jail${borrow ? ' (listings borrow the working directory)' : ''}`, () => {
    it('resolves client traversal to paths inside the root', async (t) => {
      const { s } = await jail(t, borrow);
      for (const input of ['..', '/../..', '../../..', 'real/../../..', '/real/../../../']) {
        assert.equal((await s.stat(resolveVPath(ROOT, input), ctx())).path, '/');
      }
      for (const input of ['..\\..\\etc', 'a\0b']) {
        assert.throws(
          () => resolveVPath(ROOT, input),
          (e: unknown) => e instanceof StorageError,
        );
      }
      assert.equal(await readFile(s, '/../real/./x.txt'), 'inside');
    });

    it('openRead tells the size of the file it pinned (a RETR needs no stat first) and refuses a directory', async (t) => {
      const { s } = await jail(t, borrow);
      assert.ok(s.features.has('size-at-open'));
      const src = await s.openRead(v('/alias/x.txt'), { offset: 2 }, ctx());
      assert.equal(src.fileSize, 'inside'.length);
      src.destroy();
      await rejectsKind(s.openRead(v('/real'), { offset: 0 }, ctx()), 'is-directory');
      await rejectsKind(s.openRead(v('/secret-link'), { offset: 0 }, ctx()), 'permission-denied');
    });

    it('openRead hands a small file over whole (one write for RETR), from the offset; a large one streams', async (t) => {
      const { s, root } = await jail(t, borrow);
      const small = await s.openRead(v('/real/x.txt'), { offset: 2 }, ctx());
      assert.equal(small.whole?.toString(), 'side');
      small.destroy();
      await writeFile(join(root, 'big.bin'), Buffer.alloc(1024 * 1024, 7));
      const big = await s.openRead(v('/big.bin'), { offset: 0 }, ctx());
      assert.equal(big.whole, undefined);
      let n = 0;
      for await (const chunk of big) n += (chunk as Buffer).length;
      assert.equal(n, 1024 * 1024);
    });

    it('refuses a symlink leading outside for stat, read, list, write, mkdir, rename and remove', async (t) => {
      const { s, outside } = await jail(t, borrow);
      const c = ctx();
      await rejectsKind(s.stat(v('/out'), c), 'permission-denied');
      await rejectsKind(s.stat(v('/out/secret.txt'), c), 'permission-denied');
      await rejectsKind(s.stat(v('/out/missing'), c), 'permission-denied'); // not "not-found": no probing
      await rejectsKind(readFile(s, '/out/secret.txt'), 'permission-denied');
      await rejectsKind(readFile(s, '/secret-link'), 'permission-denied');
      await rejectsKind(names(s, '/out'), 'permission-denied');
      await rejectsKind(put(s, '/out/new.txt', 'x'), 'permission-denied');
      await rejectsKind(put(s, '/secret-link', 'overwrite'), 'permission-denied');
      await rejectsKind(
        s.write(v('/secret-link'), source('x'), { offset: 0, append: true }, c),
        'permission-denied',
      );
      await rejectsKind(s.mkdir(v('/out/sub'), c), 'permission-denied');
      await rejectsKind(s.rename(v('/out/secret.txt'), v('/stolen'), c), 'permission-denied');
      await rejectsKind(s.rename(v('/real/x.txt'), v('/out/x.txt'), c), 'permission-denied');
      await rejectsKind(s.remove(v('/out/secret.txt'), c), 'permission-denied');
      await rejectsKind(s.remove(v('/secret-link'), c), 'permission-denied');
      await rejectsKind(s.chmod(v('/secret-link'), 0o777, c), 'permission-denied');
      await rejectsKind(s.setModified(v('/out/secret.txt'), new Date(0), c), 'permission-denied');
      assert.deepEqual(await readdir(outside), ['secret.txt']);
      assert.equal(await readHost(join(outside, 'secret.txt'), 'utf8'), 'secret');
    });

    it('lists links as links, naming only targets inside the root', async (t) => {
      const { s } = await jail(t, borrow);
      const entries = new Map<string, FileStat>((await listed(s, ROOT)).map((e) => [e.name, e]));
      assert.deepEqual([...entries.keys()].sort(), ['alias', 'out', 'real', 'secret-link']);
      assert.equal(entries.get('out')?.type, 'link');
      assert.equal(entries.get('out')?.target, undefined);
      assert.equal(entries.get('secret-link')?.target, undefined);
      assert.equal(entries.get('alias')?.type, 'link');
      assert.equal(entries.get('alias')?.target, '/real');
    });

    it('follows a symlinked directory that stays inside the root', async (t) => {
      const { s, root } = await jail(t, borrow);
      assert.equal((await s.stat(v('/alias'), ctx())).type, 'dir');
      assert.deepEqual(await names(s, '/alias'), ['x.txt']);
      assert.equal(await readFile(s, '/alias/x.txt'), 'inside');
      await put(s, '/alias/y.txt', 'via alias');
      assert.equal(await readHost(join(root, 'real', 'y.txt'), 'utf8'), 'via alias');
      await s.mkdir(v('/alias/sub'), ctx());
      assert.ok((await stat(join(root, 'real', 'sub'))).isDirectory());
      // Removing or renaming the link acts on the link, never on its target.
      await s.rename(v('/alias'), v('/alias2'), ctx());
      await s.remove(v('/alias2'), ctx());
      assert.deepEqual(await names(s, '/real'), ['sub', 'x.txt', 'y.txt']);
    });

    it('leaves the old file and no temp file when an upload fails', async (t) => {
      const { s, root } = await jail(t, borrow);
      await assert.rejects(
        s.write(v('/real/x.txt'), failingSource(), { offset: 0, append: false }, ctx()),
        /data connection reset/,
      );
      await assert.rejects(
        s.write(v('/real/x.txt'), failingSource(), { offset: 2, append: false }, ctx()),
        /data connection reset/,
      );
      await assert.rejects(
        s.write(v('/real/new.txt'), failingSource(), { offset: 0, append: true }, ctx()),
        /data connection reset/,
      );
      assert.equal(await readHost(join(root, 'real', 'x.txt'), 'utf8'), 'inside');
      assert.deepEqual(await readdir(join(root, 'real')), ['x.txt']);
    });

    it('an upload whose source closes without ending is aborted (426), not transient (450)', async (t) => {
      const { s, root } = await jail(t, borrow);
      const cut = new Readable({ read() {} });
      cut.push(Buffer.from('partial'));
      setImmediate(() => cut.destroy()); // closed with no error and no end: a reset data connection
      await assert.rejects(s.write(v('/real/x.txt'), cut, { offset: 0, append: false }, ctx()), {
        code: 'ERR_ABORTED',
      });
      assert.equal(await readHost(join(root, 'real', 'x.txt'), 'utf8'), 'inside');
      assert.deepEqual(await readdir(join(root, 'real')), ['x.txt']);
    });

    it('hides and reserves temp upload names', async (t) => {
      const { s, root } = await jail(t, borrow);
      await writeFile(join(root, 'real', '.ferry-upload-0123.tmp'), 'partial');
      assert.deepEqual(await names(s, '/real'), ['x.txt']);
      await rejectsKind(put(s, '/real/.ferry-upload-0123.tmp', 'x'), 'name-not-allowed');
      await rejectsKind(readFile(s, '/real/.ferry-upload-0123.tmp'), 'name-not-allowed');
    });

    it('keeps the mode of a replaced file', async (t) => {
      const { s } = await jail(t, borrow);
      await s.chmod(v('/real/x.txt'), 0o600, ctx());
      await put(s, '/real/x.txt', 'replaced');
      assert.equal((await s.stat(v('/real/x.txt'), ctx())).mode, 0o600);
      await s.write(v('/real/x.txt'), source('+'), { offset: 0, append: true }, ctx());
      assert.equal((await s.stat(v('/real/x.txt'), ctx())).mode, 0o600);
      assert.equal(await readFile(s, '/real/x.txt'), 'replaced+');
    });

    it('never puts a host path in an error message', async (t) => {
      const { s, root } = await jail(t, borrow);
      const attempts = [
        () => s.stat(v('/nope/deeper'), ctx()),
        () => readFile(s, '/real'),
        () => s.mkdir(v('/real/x.txt/sub'), ctx()),
        () => s.removeDir(v('/real'), ctx()),
        () => put(s, '/out/x', 'x'),
      ];
      for (const attempt of attempts) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof StorageError);
          assert.ok(!err.message.includes(root), err.message);
          assert.ok(!err.message.includes(tmpdir()), err.message);
          assert.match(err.message, / \/(nope|real|out)/);
          return true;
        });
      }
    });

    it('reports a missing root as not-found without its host path', async (t) => {
      const { root } = await jail(t, borrow);
      const s = new LocalStorage({ root: join(root, 'does-not-exist') });
      await assert.rejects(s.stat(ROOT, ctx()), (err: unknown) => {
        assert.ok(err instanceof StorageError && err.kind === 'not-found');
        assert.ok(!err.message.includes(root));
        return true;
      });
    });
  });
}

describe('LocalStorage root check (at login)', () => {
  it('a root that is missing or not a directory is refused, its host path only in the cause', async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'ferry-local-root-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const root = join(base, 'home');
    const s = new LocalStorage({ root });
    const refused = async (kind: 'not-found' | 'not-directory'): Promise<void> => {
      const err = await s.checkRoot(ctx()).then(
        () => assert.fail('checkRoot resolved'),
        (e: unknown) => e as StorageError,
      );
      assert.equal(err.kind, kind);
      assert.ok(!err.message.includes(base), err.message);
      assert.ok(String((err.cause as Error).message).includes(root), String(err.cause));
    };
    await refused('not-found');
    await writeFile(root, 'a file');
    await refused('not-directory');
    await rm(root);
    await mkdir(root);
    await s.checkRoot(ctx()); // created since: the same storage is usable, nothing cached
  });
});

describe('LocalStorage: FIFOs, sockets and device nodes', () => {
  it('are left out of listings and the usage scan, missing to every command, never replaced', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-local-special-'));
    const sock = createServer();
    t.after(async () => {
      sock.close();
      await rm(root, { recursive: true, force: true });
    });
    await writeFile(join(root, 'plain.txt'), 'abc');
    await mkdir(join(root, 'dir'));
    assert.equal(spawnSync('mkfifo', [join(root, 'pipe')]).status, 0, 'mkfifo');
    await new Promise<void>((resolve) => sock.listen(join(root, 'sock'), resolve));
    const s = new LocalStorage({ root });
    assert.deepEqual(await names(s, '/'), ['dir', 'plain.txt']);
    await rejectsKind(s.stat(v('/pipe'), ctx()), 'not-found');
    await rejectsKind(s.stat(v('/sock'), ctx()), 'not-found');
    assert.equal((await s.stat(v('/plain.txt'), ctx())).size, 3);
    const usage = await scanUsage(s, ctx());
    assert.deepEqual([usage.bytes, usage.files], [3, 1]);
    // Missing for every other command too (as a name that is not there); nothing replaces them.
    await rejectsKind(s.openRead(v('/pipe'), { offset: 0 }, ctx()), 'not-found');
    await rejectsKind(s.openRead(v('/sock'), { offset: 0 }, ctx()), 'not-found');
    await rejectsKind(names(s, '/pipe'), 'not-found');
    await rejectsKind(s.remove(v('/pipe'), ctx()), 'not-found');
    await rejectsKind(s.removeDir(v('/pipe'), ctx()), 'not-found');
    await rejectsKind(s.rename(v('/pipe'), v('/moved'), ctx()), 'not-found');
    await rejectsKind(s.setModified(v('/pipe'), new Date(0), ctx()), 'not-found');
    await rejectsKind(s.chmod(v('/pipe'), 0o777, ctx()), 'not-found');
    await rejectsKind(s.rename(v('/plain.txt'), v('/sock'), ctx()), 'permission-denied');
    await rejectsKind(s.mkdir(v('/pipe'), ctx()), 'permission-denied');
    await rejectsKind(
      s.write(v('/pipe'), Readable.from([Buffer.from('x')]), { offset: 0, append: false }, ctx()),
      'permission-denied',
    );
    // A directory that lists empty but holds a FIFO: RMD says why it is not empty.
    assert.equal(spawnSync('mkfifo', [join(root, 'dir', 'inner')]).status, 0, 'mkfifo');
    assert.deepEqual(await names(s, '/dir'), []);
    const notEmpty = await s.removeDir(v('/dir'), ctx()).then(
      () => assert.fail('removed'),
      (err: unknown) => err as StorageError,
    );
    assert.equal(notEmpty.kind, 'not-empty');
    assert.deepEqual(replyForError(notEmpty).reply.lines, [
      'Directory not empty: it holds entries that are not listed (FIFOs, sockets or devices).',
    ]);
    const pipe = await stat(join(root, 'pipe'));
    assert.ok(pipe.isFIFO() && pipe.mtimeMs > 0 && (pipe.mode & 0o777) !== 0o777, 'the FIFO as it was');
    assert.ok((await stat(join(root, 'sock'))).isSocket(), 'the socket as it was');
  });
});

describe('LocalStorage: RMD of a directory that lists empty', () => {
  /** removeDir's refusal, as the client reads it. */
  async function refusal(s: LocalStorage, dir: string): Promise<readonly string[]> {
    const err = await s.removeDir(v(dir), ctx()).then(
      () => assert.fail('removed'),
      (e: unknown) => e as StorageError,
    );
    assert.equal(err.kind, 'not-empty');
    return replyForError(err).reply.lines;
  }

  it('names what it holds: names that are not UTF-8, names with a control character, FIFOs', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-local-unlisted-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const s = new LocalStorage({ root });
    const file = (dir: string, name: Buffer): Promise<void> =>
      writeFile(Buffer.concat([Buffer.from(join(root, dir) + '/'), name]), 'x');
    for (const d of ['latin', 'control', 'both']) await mkdir(join(root, d));
    await file('latin', Buffer.from('caf\xe9.txt', 'latin1')); // Latin-1: not UTF-8
    await file('control', Buffer.from('a\x1bb.txt'));
    await file('both', Buffer.from('caf\xe9.txt', 'latin1'));
    assert.equal(spawnSync('mkfifo', [join(root, 'both', 'pipe')]).status, 0, 'mkfifo');
    for (const d of ['latin', 'control', 'both']) assert.deepEqual(await names(s, `/${d}`), [], d);

    assert.deepEqual(await refusal(s, '/latin'), [
      'Directory not empty: it holds entries that are not listed (names that are not valid UTF-8).',
    ]);
    assert.deepEqual(await refusal(s, '/control'), [
      'Directory not empty: it holds entries that are not listed (names with a control character or a backslash).',
    ]);
    assert.deepEqual(await refusal(s, '/both'), [
      'Directory not empty: it holds entries that are not listed (names that are not valid UTF-8; FIFOs, sockets or devices).',
    ]);
    // Beside an entry that is listed, it is not empty as any other.
    await writeFile(join(root, 'latin', 'shown.txt'), 'x');
    assert.deepEqual(await refusal(s, '/latin'), ['Directory not empty.']);
  });
});

describe('LocalStorage: names no client can address', () => {
  it('a listing tells how many it left out, once, when it is over (temp uploads not counted)', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-local-unaddressable-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const s = new LocalStorage({ root });
    const dir = join(root, 'migrated');
    await mkdir(dir);
    const file = (name: Buffer): Promise<void> =>
      writeFile(Buffer.concat([Buffer.from(dir + '/'), name]), 'x');
    await file(Buffer.from('caf\xe9.txt', 'latin1')); // Latin-1, as from vsftpd: not UTF-8
    await file(Buffer.from('a\x1bb.txt'));
    await file(Buffer.from('shown.txt'));
    await file(Buffer.from(newTempName()));
    const told: [string, number][] = [];
    const c: StorageContext = { ...ctx(), unaddressable: (d, count) => told.push([d, count]) };
    const listed: string[] = [];
    for await (const batch of s.list(v('/migrated'), c)) listed.push(...batch.map((e) => e.name));
    assert.deepEqual(listed, ['shown.txt']);
    assert.deepEqual(told, [['/migrated', 2]]);
    for await (const _ of s.list(v('/'), c)); // nothing left out: nothing told
    assert.equal(told.length, 1);
  });
});

// Trees a client can make (RNTO of a top directory) or an admin can have on disk: vsftpd lists them.
describe('LocalStorage: an entry whose virtual path would pass 4096 characters', () => {
  for (const borrowWorkingDirectory of [false, true]) {
    it(`is left out of its listing and of the quota scan, which are told of it${borrowWorkingDirectory ? ' (borrowing the working directory)' : ''}`, async (t) => {
      const root = await mkdtemp(join(tmpdir(), 'ferry-local-'));
      t.after(async () => {
        await undoHostDeepTree(root);
        await rm(root, { recursive: true, force: true });
      });
      const s = new LocalStorage({ root, borrowWorkingDirectory });
      const { dir, tooLong } = await deepTree(s, '/r');
      await s.rename(v('/r'), v(LONG_TOP), ctx());
      const moved = LONG_TOP + dir.slice('/r'.length);
      const told: string[] = [];
      const c: StorageContext = { ...ctx(), tooLong: (d, name) => void told.push(`${d}/${name}`) };
      const entries = await listed(s, moved, c);
      assert.deepEqual(
        entries.map((e) => [e.name, e.path]),
        [['a.txt', `${moved}/a.txt`]],
      );
      assert.deepEqual(told, [`${moved}/${tooLong}`]);
      told.length = 0;
      assert.deepEqual(await scanUsage(s, c), { bytes: 1, files: 1 }, 'deep.bin is not reached');
      assert.deepEqual(told, [`${moved}/${tooLong}`]);
    });
  }
});

describe('LocalStorage upload temp files', () => {
  /** A pid no process has now (a child that already exited). */
  function deadPid(): number {
    const pid = spawnSync(process.execPath, ['-e', '']).pid;
    assert.ok(pid !== undefined);
    return pid;
  }

  /** A source that stays open (the upload in progress) until `finish` is called. */
  function openSource(): { src: Readable; reading: Promise<void>; finish: () => void } {
    let started!: () => void;
    const reading = new Promise<void>((resolve) => (started = resolve));
    const src = new Readable({ read: () => started() });
    return { src, reading, finish: () => src.push(null) };
  }

  it('RMD removes crash leftovers of a directory that is otherwise empty, never a live upload', async (t) => {
    const { s, root } = await jail(t);
    const dir = join(root, 'real', 'd');
    await mkdir(dir);
    const dead = newTempName().replace(`-${process.pid}-`, `-${deadPid()}-`);
    await writeFile(join(dir, dead), 'left by a killed server');
    await writeFile(join(dir, '.ferry-upload-0123abcd.tmp'), 'left by an older Ferry');
    assert.deepEqual(await names(s, '/real/d'), []);
    await s.removeDir(v('/real/d'), ctx());
    await rejectsKind(s.stat(v('/real/d'), ctx()), 'not-found');

    await mkdir(dir);
    const live = openSource();
    const upload = s.write(v('/real/d/f'), live.src, { offset: 0, append: false }, ctx());
    await live.reading; // the temp file exists and is being written
    const notEmpty = await s.removeDir(v('/real/d'), ctx()).then(
      () => assert.fail('removed'),
      (err: unknown) => err as StorageError,
    );
    assert.equal(notEmpty.kind, 'not-empty');
    // It lists empty: the reply says why it is not.
    assert.deepEqual(replyForError(notEmpty).reply.lines, [
      'Directory not empty: an upload into it is in progress.',
    ]);
    live.finish();
    await upload;
    assert.deepEqual(await readdir(dir), ['f']);
  });

  it('a sweep removes stale temp files in the whole tree, keeping live ones and not following links', async (t) => {
    const { s, root, outside } = await jail(t);
    const ours = newTempName();
    const stale = [
      join(root, ours.replace(`-${process.pid}-`, `-${deadPid()}-`)),
      join(root, 'real', ours.replace(/\.tmp$/, '0.tmp')), // our pid, but no upload of ours has it open
      join(root, 'real', '.ferry-upload-0123abcd.tmp'),
    ];
    const otherHost = join(root, ours.replace(/^\.ferry-upload-[0-9a-f]{8}-/, '.ferry-upload-00000000-'));
    const beyondLink = join(outside, '.ferry-upload-0123abcd.tmp');
    for (const f of [...stale, otherHost, beyondLink]) await writeFile(f, 'x');
    const live = openSource();
    const upload = s.write(v('/real/live'), live.src, { offset: 0, append: false }, ctx());
    await live.reading;

    assert.equal(await sweepStaleUploads(root, new AbortController().signal), stale.length);
    const inTree = [...(await readdir(root)), ...(await readdir(join(root, 'real'))).map((n) => `real/${n}`)];
    const left = inTree.filter((n) => n.includes('.ferry-upload-'));
    assert.equal(left.length, 2, left.join(', ')); // the other host's and the live upload's
    assert.ok(left.includes(basename(otherHost)));
    assert.deepEqual(await readdir(outside), ['.ferry-upload-0123abcd.tmp', 'secret.txt']);
    live.finish();
    await upload;
    assert.equal(await readFile(s, '/real/live'), '');
  });
});

describe('LocalStorage uploads gathered into batched disk writes', () => {
  /** `n` bytes of a pattern that shows any misplaced byte (offsets, batch boundaries). */
  function pattern(n: number, seed: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  }

  /** Slices `body` into chunks of the given sizes, cycling: tiny ones (TYPE A, slow clients) and TLS-record ones. */
  function chunked(body: Buffer, sizes: number[]): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0, k = 0; i < body.length; k++) {
      const n = sizes[k % sizes.length] as number;
      out.push(body.subarray(i, i + n));
      i += n;
    }
    return out;
  }

  async function host(t: TestContext): Promise<{ root: string; s: LocalStorage }> {
    const root = await mkdtemp(join(tmpdir(), 'ferry-batch-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    return { root, s: new LocalStorage({ root }) };
  }

  it('stores every byte in order across batches, from thousands of tiny chunks and 16 KiB ones', async (t) => {
    const { root, s } = await host(t);
    // 2,000 one-byte chunks (over the 1,024 buffers one write takes), then 16 KiB records, ending mid-batch.
    const body = pattern(2_000 + 40 * 16_384 + 1_234, 1);
    const chunks = [...chunked(body.subarray(0, 2_000), [1]), ...chunked(body.subarray(2_000), [16_384])];
    const r = await s.write(v('/big.bin'), Readable.from(chunks), { offset: 0, append: false }, ctx());
    assert.equal(r.bytes, body.length);
    assert.ok((await readHost(join(root, 'big.bin'))).equals(body));
  });

  it('REST STOR and APPE keep the old bytes and place the new ones after them, across batches', async (t) => {
    const { root, s } = await host(t);
    const old = pattern(700_000, 2);
    await writeFile(join(root, 'f.bin'), old);
    const tail = pattern(900_001, 3);
    await s.write(
      v('/f.bin'),
      Readable.from(chunked(tail, [16_384, 7])),
      { offset: 300_000, append: false },
      ctx(),
    );
    const afterRest = Buffer.concat([old.subarray(0, 300_000), tail]);
    assert.ok((await readHost(join(root, 'f.bin'))).equals(afterRest), 'REST STOR');

    const more = pattern(500_000, 4);
    await s.write(v('/f.bin'), Readable.from(chunked(more, [65_536, 3])), { offset: 0, append: true }, ctx());
    assert.ok((await readHost(join(root, 'f.bin'))).equals(Buffer.concat([afterRest, more])), 'APPE');
  });

  it('an upload that fails after several batches were written leaves the old file and no temp file', async (t) => {
    const { root, s } = await host(t);
    const old = pattern(100_000, 5);
    await writeFile(join(root, 'keep.bin'), old);
    const src = Readable.from(
      (async function* () {
        for (let i = 0; i < 64; i++) yield pattern(16_384, i); // 1 MiB: four batches on disk
        yield pattern(1_000, 9); // gathered, not yet written
        throw new Error('data connection reset');
      })(),
    );
    await assert.rejects(s.write(v('/keep.bin'), src, { offset: 0, append: false }, ctx()));
    assert.ok((await readHost(join(root, 'keep.bin'))).equals(old));
    assert.deepEqual(await readdir(root), ['keep.bin']);
  });
});

describe('LocalStorage: APPE and REST + STOR keep a sparse file sparse', () => {
  const MiB = 1024 * 1024;
  /** 64 MiB, nearly all holes, with a few bytes here and there (one straddling a 64 KiB block edge). */
  async function sparse(t: TestContext): Promise<{ root: string; s: LocalStorage; expected: Buffer }> {
    const root = await mkdtemp(join(tmpdir(), 'ferry-sparse-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const expected = Buffer.alloc(64 * MiB);
    const fh = await open(join(root, 's.bin'), 'w');
    for (const [at, text] of [
      [0, 'head'],
      [40 * MiB - 2, 'edge'],
      [64 * MiB - 3, 'end'],
    ] as const) {
      expected.write(text, at);
      await fh.write(text, at);
    }
    await fh.close();
    assert.ok((await stat(join(root, 's.bin'))).blocks * 512 < MiB, 'made sparse');
    return { root, s: new LocalStorage({ root }), expected };
  }

  it('APPE copies the data, not the holes', async (t) => {
    const { root, s, expected } = await sparse(t);
    await s.write(v('/s.bin'), source('+tail'), { offset: 0, append: true }, ctx());
    const st = await stat(join(root, 's.bin'));
    assert.equal(st.size, 64 * MiB + 5);
    assert.ok(st.blocks * 512 < MiB, `${st.blocks * 512} bytes on disk for ${st.size}: holes written out`);
    assert.ok((await readHost(join(root, 's.bin'))).equals(Buffer.concat([expected, Buffer.from('+tail')])));
  });

  it('REST + STOR inside the holes copies the data before the offset, not the holes', async (t) => {
    const { root, s, expected } = await sparse(t);
    await s.write(v('/s.bin'), source('x'), { offset: 40 * MiB, append: false }, ctx());
    const st = await stat(join(root, 's.bin'));
    assert.equal(st.size, 40 * MiB + 1);
    assert.ok(st.blocks * 512 < MiB, `${st.blocks * 512} bytes on disk for ${st.size}: holes written out`);
    const want = Buffer.concat([expected.subarray(0, 40 * MiB), Buffer.from('x')]);
    assert.ok((await readHost(join(root, 's.bin'))).equals(want));
  });
});
