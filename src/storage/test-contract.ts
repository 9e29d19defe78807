// One behavioural contract, run against every StorageBackend (contract.test.ts for the local and
// memory backends, test/storage/s3-contract.test.ts for S3 against a real radosgw). Published as
// 'ferry/testing' for embedders' own backends.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it as nodeIt, type TestContext } from 'node:test';
import { FerryError, replyForError, StorageError } from '../errors.js';
import { ctx, failingSource, listed, names, put, readFile, rejectsKind, source, v } from './test-support.js';
import type { FileStat, StorageBackend, VPath } from './types.js';
import { ROOT } from './virtual-path.js';

export interface Seed {
  readOnly?: boolean;
  files?: Record<string, string>;
}
export type Factory = (t: TestContext, seed?: Seed) => Promise<StorageBackend>;

/** Each test's limit: a backend that never settles fails that test alone, not the ones after it. */
const TEST_MS = 20_000;
/** How long an aborted operation may take to reject once its signal fired. */
const ABORT_MS = 5_000;

function it(name: string, fn: (t: TestContext) => Promise<void>): void {
  nodeIt(name, { timeout: TEST_MS }, fn);
}

/** `p`, or a failure saying what the backend was expected to do if it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number, expected: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${expected}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers the contract's tests for one backend: `make` returns a fresh backend per test, holding
 * `seed.files` (paths from its root) and read-only when `seed.readOnly`.
 */
export function storageContract(name: string, make: Factory): void {
  describe(`storage contract: ${name}`, () => {
    it('stats the root as a directory', async (t) => {
      const s = await make(t);
      const st = await s.stat(ROOT, ctx());
      assert.equal(st.type, 'dir');
      assert.equal(st.path, '/');
    });

    it('writes, stats and reads a file', async (t) => {
      const s = await make(t);
      const r = await s.write(v('/a.txt'), source('hello ', 'world'), { offset: 0, append: false }, ctx());
      assert.equal(r.bytes, 11);
      const st: FileStat = await s.stat(v('/a.txt'), ctx());
      assert.deepEqual([st.name, st.path, st.type, st.size], ['a.txt', '/a.txt', 'file', 11]);
      assert.ok(st.modified instanceof Date);
      assert.equal(await readFile(s, '/a.txt'), 'hello world');
      assert.equal(await readFile(s, '/a.txt', 6), 'world');
      assert.equal(await readFile(s, '/a.txt', 100), '');
    });

    it('replaces a file only when the source ends successfully', async (t) => {
      const s = await make(t, { files: { '/f.txt': 'old content' } });
      await assert.rejects(
        s.write(v('/f.txt'), failingSource(), { offset: 0, append: false }, ctx()),
        /data connection reset/,
      );
      assert.equal(await readFile(s, '/f.txt'), 'old content');
      assert.deepEqual(await names(s, '/'), ['f.txt']);
      await put(s, '/f.txt', 'new');
      assert.equal(await readFile(s, '/f.txt'), 'new');
    });

    it('stops a write on abort and keeps the old file', async (t) => {
      const s = await make(t, { files: { '/f.txt': 'old' } });
      const ac = new AbortController();
      const src = new PassThrough();
      src.write('some bytes');
      const pending = s.write(v('/f.txt'), src, { offset: 0, append: false }, ctx(ac.signal));
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(
        within(
          pending,
          ABORT_MS,
          'write() rejects with FerryError ERR_ABORTED once c.signal aborts, also while it waits for ' +
            "the source's next chunk (listen to the signal, not only check it between chunks)",
        ),
        (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
      );
      assert.equal(await readFile(s, '/f.txt'), 'old');
      assert.deepEqual(await names(s, '/'), ['f.txt']);
    });

    it('restarts a write at an offset (REST + STOR)', async (t) => {
      const s = await make(t, { files: { '/r.bin': '0123456789' } });
      const r = await s.write(v('/r.bin'), source('abc'), { offset: 4, append: false }, ctx());
      assert.equal(r.bytes, 3);
      assert.equal(await readFile(s, '/r.bin'), '0123abc');
      await s.write(v('/r.bin'), source('Z'), { offset: 7, append: false }, ctx()); // at the end exactly
      assert.equal(await readFile(s, '/r.bin'), '0123abcZ');
      await rejectsKind(
        s.write(v('/missing'), source('x'), { offset: 3, append: false }, ctx()),
        'not-found',
      );
    });

    it('refuses a restart beyond the end of the file: no gap of zeros is ever made', async (t) => {
      const s = await make(t, { files: { '/r.bin': '0123' } });
      await rejectsKind(s.write(v('/r.bin'), source('x'), { offset: 5, append: false }, ctx()), 'beyond-end');
      await rejectsKind(
        s.write(v('/r.bin'), source('x'), { offset: 1e12, append: false }, ctx()),
        'beyond-end',
      );
      const prepare = s.prepareWrite?.bind(s);
      if (prepare) await rejectsKind(prepare(v('/r.bin'), { offset: 5, append: false }, ctx()), 'beyond-end');
      assert.equal(await readFile(s, '/r.bin'), '0123');
      assert.deepEqual(await names(s, '/'), ['r.bin']);
    });

    it('appends, creating the file if needed', async (t) => {
      const s = await make(t, { files: { '/log': 'one\n' } });
      const r = await s.write(v('/log'), source('two\n'), { offset: 0, append: true }, ctx());
      assert.equal(r.bytes, 4);
      assert.equal(await readFile(s, '/log'), 'one\ntwo\n');
      await s.write(v('/new'), source('x'), { offset: 0, append: true }, ctx());
      assert.equal(await readFile(s, '/new'), 'x');
    });

    it('refuses to read or write where a directory or nothing is', async (t) => {
      const s = await make(t, { files: { '/d/f': 'x' } });
      await rejectsKind(s.openRead(v('/d'), { offset: 0 }, ctx()), 'is-directory');
      await rejectsKind(s.openRead(v('/nope'), { offset: 0 }, ctx()), 'not-found');
      await rejectsKind(s.write(v('/d'), source('x'), { offset: 0, append: false }, ctx()), 'is-directory');
      await rejectsKind(s.write(ROOT, source('x'), { offset: 0, append: false }, ctx()), 'is-directory');
      await rejectsKind(s.write(v('/no/f'), source('x'), { offset: 0, append: false }, ctx()), 'not-found');
      await rejectsKind(
        s.write(v('/d/f/g'), source('x'), { offset: 0, append: false }, ctx()),
        'not-directory',
      );
      await rejectsKind(s.stat(v('/nope'), ctx()), 'not-found');
      await rejectsKind(s.stat(v('/d/f/g'), ctx()), 'not-directory');
    });

    it('an upload prepared onto nothing, where nothing may be replaced, leaves a file made meanwhile', async (t) => {
      const s = await make(t);
      if (!s.prepareWrite) return t.skip('no prepareWrite');
      const o = { offset: 0, append: false };
      const dropBox = { ...ctx(), mayReplace: () => false }; // no `overwrite`
      const late = await s.prepareWrite(v('/order.csv'), o, dropBox);
      await s.write(v('/order.csv'), source('A-FIRST'), o, dropBox);
      await assert.rejects(
        late.write(source('B-LATE'), dropBox),
        (err: unknown) => err instanceof StorageError && err.permission === 'overwrite',
      );
      assert.equal(await readFile(s, '/order.csv'), 'A-FIRST');
      assert.deepEqual(await names(s, '/'), ['order.csv']);
      // Where replacing is allowed, the upload that ends last wins, as ever.
      const later = await s.prepareWrite(v('/b'), o, ctx());
      await put(s, '/b', 'first');
      await later.write(source('late'), ctx());
      assert.equal(await readFile(s, '/b'), 'late');
    });

    it('checks the target of an upload before its bytes (prepareWrite): refusals change nothing', async (t) => {
      const s = await make(t, { files: { '/d/f': 'old' } });
      const prepare = s.prepareWrite?.bind(s);
      if (!prepare) return t.skip('no prepareWrite');
      const o = { offset: 0, append: false };
      await rejectsKind(prepare(v('/d'), o, ctx()), 'is-directory');
      await rejectsKind(prepare(ROOT, o, ctx()), 'is-directory');
      await rejectsKind(prepare(v('/d'), { offset: 0, append: true }, ctx()), 'is-directory');
      await rejectsKind(prepare(v('/no/f'), o, ctx()), 'not-found');
      await rejectsKind(prepare(v('/d/f/g'), o, ctx()), 'not-directory');
      await rejectsKind(prepare(v('/d/missing'), { offset: 3, append: false }, ctx()), 'not-found');
      // Released unused: nothing written; used: an ordinary write.
      const unused = await prepare(v('/d/f'), o, ctx());
      await unused.release();
      await unused.release();
      assert.equal(await readFile(s, '/d/f'), 'old');
      assert.deepEqual(await names(s, '/d'), ['f']);
      const used = await prepare(v('/d/f'), { offset: 0, append: true }, ctx());
      assert.equal((await used.write(source('+new'), ctx())).bytes, 4);
      await used.release(); // a no-op after the write
      assert.equal(await readFile(s, '/d/f'), 'old+new');
      const created = await prepare(v('/d/g'), o, ctx());
      await created.write(source('g'), ctx());
      assert.deepEqual(await names(s, '/d'), ['f', 'g']);
    });

    it('lists directories', async (t) => {
      const s = await make(t, { files: { '/d/a': '1', '/d/b': '22', '/d/sub/c': '3' } });
      const entries = new Map<string, FileStat>((await listed(s, '/d')).map((e) => [e.name, e]));
      assert.deepEqual([...entries.keys()].sort(), ['a', 'b', 'sub']);
      assert.equal(entries.get('b')?.size, 2);
      assert.equal(entries.get('b')?.path, '/d/b');
      assert.equal(entries.get('sub')?.type, 'dir');
      await rejectsKind(names(s, '/nope'), 'not-found');
      await rejectsKind(names(s, '/d/a'), 'not-directory');
    });

    it('streams a listing of 2,000 entries and can stop early', async (t) => {
      const files: Record<string, string> = {};
      for (let i = 0; i < 2000; i++) files[`/big/f${String(i).padStart(4, '0')}`] = 'x';
      const s = await make(t, { files });
      const seen = new Set<string>();
      for (const e of await listed(s, '/big')) {
        assert.equal(e.type, 'file');
        assert.equal(e.path, `/big/${e.name}`);
        seen.add(e.name);
      }
      assert.equal(seen.size, 2000);
      assert.ok(seen.has('f0000') && seen.has('f1999'));
      let n = 0;
      for await (const batch of s.list(v('/big'), ctx())) {
        n += batch.length;
        break;
      }
      assert.ok(n > 0 && n < 2000, `the first batch holds part of the listing, not ${n} entries`);
    });

    it('stops a listing on abort', async (t) => {
      const s = await make(t, { files: { '/a': '1' } });
      const ac = new AbortController();
      ac.abort();
      const entries = s.list(v('/'), ctx(ac.signal))[Symbol.asyncIterator]();
      await assert.rejects(
        within(
          entries.next(),
          ABORT_MS,
          'list() rejects with FerryError ERR_ABORTED when c.signal has aborted',
        ),
        (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
      );
    });

    it('makes directories', async (t) => {
      const s = await make(t, { files: { '/f': 'x' } });
      await s.mkdir(v('/d'), ctx());
      assert.equal((await s.stat(v('/d'), ctx())).type, 'dir');
      await rejectsKind(s.mkdir(v('/d'), ctx()), 'exists');
      await rejectsKind(s.mkdir(v('/f'), ctx()), 'exists');
      await rejectsKind(s.mkdir(ROOT, ctx()), 'exists');
      await rejectsKind(s.mkdir(v('/x/y'), ctx()), 'not-found');
      await rejectsKind(s.mkdir(v('/f/y'), ctx()), 'not-directory');
    });

    it('removes files and directories', async (t) => {
      const s = await make(t, { files: { '/f': 'x', '/full/g': 'y' } });
      await s.mkdir(v('/empty'), ctx());
      await rejectsKind(s.remove(v('/empty'), ctx()), 'is-directory');
      await rejectsKind(s.removeDir(v('/f'), ctx()), 'not-directory');
      await rejectsKind(s.removeDir(v('/full'), ctx()), 'not-empty');
      await rejectsKind(s.remove(v('/nope'), ctx()), 'not-found');
      await rejectsKind(s.removeDir(v('/nope'), ctx()), 'not-found');
      await rejectsKind(s.removeDir(ROOT, ctx()), 'permission-denied');
      await s.remove(v('/f'), ctx());
      await s.removeDir(v('/empty'), ctx());
      assert.deepEqual(await names(s, '/'), ['full']);
    });

    it('renames: a file replaces a file, a directory only an empty directory', async (t) => {
      const s = await make(t, { files: { '/a': 'A', '/b': 'B', '/d1/x': 'x', '/d2/y': 'y' } });
      await s.rename(v('/a'), v('/c'), ctx());
      assert.equal(await readFile(s, '/c'), 'A');
      await rejectsKind(s.stat(v('/a'), ctx()), 'not-found');
      await s.rename(v('/c'), v('/b'), ctx()); // file over file replaces
      assert.equal(await readFile(s, '/b'), 'A');
      await rejectsKind(s.rename(v('/b'), v('/d1'), ctx()), 'exists');
      await rejectsKind(s.rename(v('/d1'), v('/b'), ctx()), 'exists');
      await rejectsKind(s.rename(v('/d1'), v('/d2'), ctx()), 'not-empty');
      assert.deepEqual(await names(s, '/d2'), ['y']);
      // As rename(2): a directory replaces an empty one, its contents with it.
      await s.mkdir(v('/e'), ctx());
      await s.mkdir(v('/d3'), ctx());
      await s.rename(v('/d3'), v('/e'), ctx());
      await rejectsKind(s.stat(v('/d3'), ctx()), 'not-found');
      await rejectsKind(s.rename(v('/b'), v('/e'), ctx()), 'exists');
      await s.rename(v('/d2'), v('/e'), ctx());
      assert.deepEqual(await names(s, '/e'), ['y']);
      await rejectsKind(s.stat(v('/d2'), ctx()), 'not-found');
      // The reason, not a name refused (FileZilla showed 553 for a folder dragged into itself).
      const intoItself = await s.rename(v('/d1'), v('/d1/inner'), ctx()).then(
        () => assert.fail('renamed'),
        (err: unknown) => err,
      );
      assert.deepEqual(replyForError(intoItself).reply, {
        code: 550,
        lines: ['Cannot move a directory into itself.'],
      });
      await rejectsKind(s.rename(v('/nope'), v('/z'), ctx()), 'not-found');
      await rejectsKind(s.rename(v('/b'), v('/nope/z'), ctx()), 'not-found');
      await rejectsKind(s.rename(ROOT, v('/z'), ctx()), 'permission-denied');
      await s.rename(v('/d1'), v('/e/moved'), ctx());
      assert.deepEqual(await names(s, '/e/moved'), ['x']);
    });

    it('sets modification time and mode where it can, and finds unique names', async (t) => {
      const s = await make(t, { files: { '/f': 'x' } });
      // A backend without a feature has no method for it either (the server then does not advertise it).
      assert.equal(s.setModified !== undefined, s.features.has('set-modified'));
      assert.equal(s.chmod !== undefined, s.features.has('chmod'));
      if (s.setModified) {
        const when = new Date('2020-02-03T04:05:06Z');
        await s.setModified(v('/f'), when, ctx());
        assert.equal((await s.stat(v('/f'), ctx())).modified.getTime(), when.getTime());
      }
      if (s.chmod) {
        await s.chmod(v('/f'), 0o100640, ctx());
        assert.equal((await s.stat(v('/f'), ctx())).mode, 0o640);
      }
      const u = await s.uniqueName?.(ROOT, ctx());
      assert.ok(u !== undefined);
      await rejectsKind(s.stat(u, ctx()), 'not-found');
    });

    it('refuses every change when read-only, but reads', async (t) => {
      const s = await make(t, { readOnly: true, files: { '/f': 'x', '/d/g': 'y' } });
      assert.equal(await readFile(s, '/f'), 'x');
      assert.deepEqual(await names(s, '/'), ['d', 'f']);
      const c = ctx();
      await rejectsKind(s.write(v('/f'), source('z'), { offset: 0, append: false }, c), 'permission-denied');
      await rejectsKind(s.write(v('/n'), source('z'), { offset: 0, append: true }, c), 'permission-denied');
      await rejectsKind(s.mkdir(v('/n'), c), 'permission-denied');
      await rejectsKind(s.remove(v('/f'), c), 'permission-denied');
      await rejectsKind(s.removeDir(v('/d'), c), 'permission-denied');
      await rejectsKind(s.rename(v('/f'), v('/g'), c), 'permission-denied');
      if (s.setModified) await rejectsKind(s.setModified(v('/f'), new Date(), c), 'permission-denied');
      if (s.chmod) await rejectsKind(s.chmod(v('/f'), 0o600, c), 'permission-denied');
      await rejectsKind(s.uniqueName?.(ROOT, c) ?? Promise.reject(), 'permission-denied');
      assert.equal(await readFile(s, '/f'), 'x');
    });

    it('refuses paths that were not made by resolveVPath', async (t) => {
      const s = await make(t);
      for (const bad of ['/../etc', 'rel', '/a//b', '/a/./b', '/a\\b', '/a/'] as VPath[]) {
        await rejectsKind(s.stat(bad, ctx()), 'name-not-allowed');
      }
    });
  });
}
