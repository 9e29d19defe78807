// The commit of an upload (the rename of its temp file onto the target) replaces nothing it may not:
// not after the upload was cut, not a file another upload made where overwriting is not allowed,
// not the setuid bits of the file it replaces; and the commit lock is nobody else's to remove.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmod,
  mkdtemp,
  open,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FerryError } from '../errors.js';
import type { Stats } from 'node:fs';
import { FdJail } from './fd-jail.js';
import { LocalStorage } from './local.js';
import { MetaFs } from './meta-fs.js';
import { renameIfUnchanged } from './target-guard.js';
import { ctx, put, rejectsKind, source, v } from './test-support.js';
import type { StorageContext } from './types.js';
import { sweepStaleUploads } from './upload-temp.js';

async function home(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-commit-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

/** A drop box's context: writing is allowed, replacing a file is not (no `overwrite`). */
function dropBox(signal?: AbortSignal): StorageContext {
  return {
    ...ctx(signal),
    denies: (_resolved, replacing) => (replacing === undefined ? undefined : 'overwrite'),
    mayReplace: () => false,
  };
}

const lockName = (name: string): string =>
  `.ferry-upload-commit-${createHash('sha256').update(name).digest('hex').slice(0, 24)}.tmp`;

/** Runs `fn` with every FileHandle's sync() first calling `before` (the client cut mid-fsync). */
async function onSync<T>(before: () => void, fn: () => Promise<T>): Promise<T> {
  const fh = await open(tmpdir(), 'r');
  const proto = Object.getPrototypeOf(fh) as { sync: () => Promise<void> };
  await fh.close();
  const real = proto.sync;
  proto.sync = function (this: unknown) {
    before();
    return real.call(this);
  };
  try {
    return await fn();
  } finally {
    proto.sync = real;
  }
}

async function abortedDuringSync(root: string, o: { offset: number; append: boolean }): Promise<void> {
  await writeFile(join(root, 'log.txt'), 'old\n');
  const s = new LocalStorage({ root });
  const ac = new AbortController();
  const write = onSync(
    () => ac.abort(new Error('ABOR')),
    () => s.write(v('/log.txt'), source('new\n'), o, ctx(ac.signal)),
  );
  await assert.rejects(write, (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED');
  assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old\n');
  assert.deepEqual(await readdir(root), ['log.txt']);
}

describe('upload commit', () => {
  it('a STOR cut while its temp file is synced replaces nothing', async (t) => {
    await abortedDuringSync(await home(t), { offset: 0, append: false });
  });

  it('an APPE cut while its temp file is synced appends nothing', async (t) => {
    await abortedDuringSync(await home(t), { offset: 0, append: true });
  });

  it('a drop box upload onto nothing creates the file, its temp file gone', async (t) => {
    const root = await home(t);
    const s = new LocalStorage({ root });
    await s.write(v('/new.csv'), source('data'), { offset: 0, append: false }, dropBox());
    assert.equal(await readFile(join(root, 'new.csv'), 'utf8'), 'data');
    assert.deepEqual(await readdir(root), ['new.csv']);
    assert.equal((await stat(join(root, 'new.csv'))).nlink, 1);
  });

  it('a rename onto a file that appeared after the policy looked asks denies there', async (t) => {
    const root = await home(t);
    const s = new LocalStorage({ root });
    await writeFile(join(root, 'a'), 'mine');
    await writeFile(join(root, 'b'), 'theirs');
    await rejectsKind(s.rename(v('/a'), v('/b'), dropBox()), 'permission-denied');
    assert.equal(await readFile(join(root, 'b'), 'utf8'), 'theirs');
    assert.equal(await readFile(join(root, 'a'), 'utf8'), 'mine');
  });

  it('the replaced file’s setuid, setgid and sticky bits are not given to the new content', async (t) => {
    const root = await home(t);
    await writeFile(join(root, 'tool'), 'old');
    await chmod(join(root, 'tool'), 0o7755);
    const s = new LocalStorage({ root });
    await put(s, '/tool', 'client bytes');
    assert.equal((await stat(join(root, 'tool'))).mode & 0o7777, 0o755);
  });

  it('the stale-temp sweep leaves a live commit lock, removes a dead one’s', async (t) => {
    const root = await home(t);
    const live = join(root, lockName('a'));
    const dead = join(root, lockName('b'));
    await writeFile(live, '');
    await writeFile(dead, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(dead, old, old);
    assert.equal(await sweepStaleUploads(root, new AbortController().signal), 1);
    assert.deepEqual(await readdir(root), [lockName('a')]);
  });

  it('a commit removes its lock only while the lock is its own', async (t) => {
    const root = await realpath(await home(t));
    await writeFile(join(root, 'log.txt'), 'old');
    await writeFile(join(root, 'tmp'), 'old+new');
    const lock = join(root, lockName('log.txt'));
    // While this commit holds its lock, a sweep (or another process) takes it and another makes it anew.
    class Swapping extends MetaFs {
      override async renameIf(from: string, to: string, ok: (now: Stats | undefined) => boolean) {
        await unlink(lock);
        await writeFile(lock, 'theirs');
        return super.renameIf(from, to, ok);
      }
    }
    const jail = new FdJail(root);
    const dir = await jail.pinDir(root, 'write', '/');
    const existing = await jail.pinAt(dir, 'log.txt', 'write', '/log.txt');
    t.after(() => Promise.all([dir.close(), existing?.close()]));
    await renameIfUnchanged(
      new Swapping(false),
      join(root, 'tmp'),
      { dir, name: 'log.txt', existing },
      v('/log.txt'),
      ctx().signal,
    );
    assert.equal(await readFile(join(root, 'log.txt'), 'utf8'), 'old+new');
    assert.equal(await readFile(lock, 'utf8'), 'theirs'); // the other's lock stays
  });
});
