// Uploads that keep the existing bytes (APPE, REST n + STOR) while someone else writes the same
// file: they take turns in one process (UploadLocks), and a change by anyone else during the upload
// refuses it (transient) rather than overwriting that change.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { FerryError } from '../errors.js';
import { LocalStorage } from './local.js';
import { ctx, rejectsKind, source, v } from './test-support.js';
import { UploadLocks } from './upload-locks.js';

async function home(t: TestContext, content: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-append-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'log.txt'), content);
  return root;
}

/**
 * A source that gives `first`, then waits: `taken` resolves once the storage has read `first` and
 * asks for more; `finish` gives the rest and ends it.
 */
function heldSource(first: string): { src: Readable; taken: Promise<void>; finish: (rest: string) => void } {
  let asked: () => void = () => {};
  const taken = new Promise<void>((resolve) => (asked = resolve));
  let given = false;
  const src = new Readable({
    read() {
      if (given) return asked();
      given = true;
      this.push(Buffer.from(first));
    },
  });
  const finish = (rest: string): void => {
    src.push(Buffer.from(rest));
    src.push(null);
  };
  return { src, taken, finish };
}

const APPEND = { offset: 0, append: true };
const MiB = 1024 * 1024;

describe('LocalStorage: uploads that keep the existing bytes, with another writer', () => {
  for (const [what, o, expected] of [
    ['APPE', APPEND, 'old|outside'],
    ['REST 2 + STOR', { offset: 2, append: false }, 'old|outside'],
  ] as const) {
    it(`${what}: the file changed on disk during the upload → transient, the change kept, no temp left`, async (t) => {
      const root = await home(t, 'old|');
      const s = new LocalStorage({ root });
      const { src, taken, finish } = heldSource('new ');
      const upload = s.write(v('/log.txt'), src, o, ctx());
      await taken; // the upload is under way, the old file pinned and copied
      await appendFile(join(root, 'log.txt'), 'outside'); // e.g. a local program, or another worker
      finish('bytes');
      await rejectsKind(upload, 'transient');
      assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), expected);
      assert.deepEqual(await readdir(root), ['log.txt']);
    });
  }

  it('APPE onto a name that another writer created during the upload → transient', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-append-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const s = new LocalStorage({ root });
    const { src, taken, finish } = heldSource('mine');
    const upload = s.write(v('/new.txt'), src, APPEND, ctx());
    await taken;
    await writeFile(join(root, 'new.txt'), 'theirs');
    finish('');
    await rejectsKind(upload, 'transient');
    assert.equal(await readFile(join(root, 'new.txt'), 'utf8'), 'theirs');
  });

  it("two sessions' storages sharing locks: the second APPE waits and appends after the first", async (t) => {
    const root = await home(t, 'old|');
    const locks = new UploadLocks();
    const [a, b] = [new LocalStorage({ root, locks }), new LocalStorage({ root, locks })];
    const first = heldSource('A1 ');
    const upA = a.write(v('/log.txt'), first.src, APPEND, ctx());
    await first.taken;
    // Started while A is in flight: without the lock it would start from 'old|' too.
    const upB = b.write(v('/log.txt'), source('B1 ', 'B2 '), APPEND, ctx());
    first.finish('A2 ');
    assert.deepEqual(await Promise.all([upA, upB]), [{ bytes: 6 }, { bytes: 6 }]);
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old|A1 A2 B1 B2 ');
    assert.equal(locks.size, 0, 'released after the renames');
  });

  it('a plain STOR during a locked APPE replaces the file; the APPE is refused, not lost silently', async (t) => {
    const root = await home(t, 'old|');
    const locks = new UploadLocks();
    const [a, b] = [new LocalStorage({ root, locks }), new LocalStorage({ root, locks })];
    const held = heldSource('appended');
    const upA = a.write(v('/log.txt'), held.src, APPEND, ctx());
    await held.taken;
    await b.write(v('/log.txt'), source('whole new file'), { offset: 0, append: false }, ctx()); // no lock: no wait
    held.finish('');
    await rejectsKind(upA, 'transient');
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'whole new file');
    assert.equal(locks.size, 0);
  });

  it('a prepared APPE released unused (no data connection) lets the next one go', async (t) => {
    const root = await home(t, 'old|');
    const locks = new UploadLocks();
    const s = new LocalStorage({ root, locks });
    const prepared = await s.prepareWrite(v('/log.txt'), APPEND, ctx());
    const next = s.write(v('/log.txt'), source('next'), APPEND, ctx());
    await prepared.release();
    await next;
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old|next');
    assert.equal(locks.size, 0);
  });

  it('a session that disconnects while waiting for the lock gives up its turn (ERR_ABORTED)', async (t) => {
    const root = await home(t, 'old|');
    const locks = new UploadLocks();
    const s = new LocalStorage({ root, locks });
    const held = heldSource('A');
    const upA = s.write(v('/log.txt'), held.src, APPEND, ctx());
    await held.taken;
    const ac = new AbortController();
    const waiting = s.prepareWrite(v('/log.txt'), APPEND, ctx(ac.signal));
    ac.abort();
    await assert.rejects(waiting, { code: 'ERR_ABORTED' });
    held.finish('');
    await upA;
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old|A');
    assert.equal(locks.size, 0);
  });

  it("another process committing to the name (its commit lock there) → transient, nothing replaced; a dead one's stale lock is cleared", async (t) => {
    const root = await home(t, 'old|');
    const s = new LocalStorage({ root });
    const lock = join(
      root,
      `.ferry-upload-commit-${createHash('sha256').update('log.txt').digest('hex').slice(0, 24)}.tmp`,
    );
    await writeFile(lock, ''); // as a worker holds it between its check and its rename
    await rejectsKind(
      s.write(v('/log.txt'), Readable.from([Buffer.from('mine')]), APPEND, ctx()),
      'transient',
    );
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old|');
    // A lock left a minute ago by a process that died mid-commit does not block the name for ever.
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    await s.write(v('/log.txt'), Readable.from([Buffer.from('mine')]), APPEND, ctx());
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old|mine');
    assert.deepEqual(await readdir(root), ['log.txt'], 'the lock is gone, and no temp file is left');
  });
});

// The kept bytes are copied beside the client's, not before them: a copy of minutes first left the
// client without traffic until it gave up (curl after 60 s), and its retry copied the whole again.
describe('LocalStorage: the kept bytes copied while the new ones come', { timeout: 60_000 }, () => {
  it('APPE onto a 4 TiB file (holes): the new bytes are read at once; ABOR stops the copy, the old file kept, no temp left', async (t) => {
    const root = await home(t, '');
    const big = join(root, 'log.txt');
    await truncate(big, 4 * 2 ** 40); // read through as zeros: far longer than this test may run
    const s = new LocalStorage({ root });
    const { src, taken } = heldSource('new ');
    const abort = new AbortController();
    const upload = s.write(v('/log.txt'), src, APPEND, ctx(abort.signal));
    await taken; // before: only once the whole copy was done
    abort.abort();
    await assert.rejects(upload, (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED');
    assert.equal((await stat(big)).size, 4 * 2 ** 40);
    assert.deepEqual(await readdir(root), ['log.txt']);
  });

  for (const [what, o, kept] of [
    ['APPE', APPEND, 5 * MiB + 3],
    ['REST n + STOR', { offset: 3 * MiB + 1, append: false }, 3 * MiB + 1],
  ] as const)
    it(`${what}: the kept bytes (several chunks) then the new ones, whichever is written first`, async (t) => {
      const old = randomBytes(5 * MiB + 3);
      old.fill(0, MiB, 2 * MiB); // a run of zeros: left a hole, read back as zeros
      const root = await home(t, '');
      await writeFile(join(root, 'log.txt'), old);
      const added = randomBytes(2 * MiB + 5);
      await new LocalStorage({ root }).write(v('/log.txt'), Readable.from([added]), o, ctx());
      const now = await readFile(join(root, 'log.txt'));
      assert.ok(now.equals(Buffer.concat([old.subarray(0, kept), added])), `${what}: the new version`);
      assert.deepEqual(await readdir(root), ['log.txt']);
    });
});
