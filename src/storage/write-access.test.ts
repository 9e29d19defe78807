// The upload's temp file is made before the 150 (LocalStorage.prepareWrite), behind the jail check,
// and is the one the write then fills: no probe file made and removed beside it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it, type TestContext } from 'node:test';
import { LocalStorage } from './local.js';
import { ctx, rejectsKind, source, v } from './test-support.js';
import { UploadLocks } from './upload-locks.js';
import { isTempName } from './upload-temp.js';

const APPEND = { offset: 0, append: true };

/** Sets or clears a file attribute; false where the filesystem or the user may not. */
async function chattr(flag: string, path: string): Promise<boolean> {
  return promisify(execFile)('chattr', [flag, path]).then(
    () => true,
    () => false,
  );
}

async function tempDir(t: TestContext, name: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `ferry-${name}-`));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** Locks that say when an upload asks for one (from then on it waits, if another holds it). */
class WatchedLocks extends UploadLocks {
  #calls = 0;
  readonly #watchers = new Set<() => void>();

  /** Resolves once acquire has been called `n` times in all. */
  asked(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#calls < n) return;
        this.#watchers.delete(check);
        resolve();
      };
      this.#watchers.add(check);
      check();
    });
  }

  override acquire(key: string, signal: AbortSignal, moved?: () => void): Promise<() => void> {
    this.#calls++;
    const granted = super.acquire(key, signal, moved); // queued now, if held
    for (const check of [...this.#watchers]) check();
    return granted;
  }
}

describe('LocalStorage.prepareWrite: the upload temp file', () => {
  it('is made at the check and filled by the write; released unwritten, it goes', async (t) => {
    const root = await tempDir(t, 'upload-temp');
    const s = new LocalStorage({ root });
    const temps = async (): Promise<string[]> => (await readdir(root)).filter(isTempName);
    const prepared = await s.prepareWrite(v('/a.txt'), { offset: 0, append: false }, ctx());
    const [made] = await temps();
    assert.ok(made !== undefined, 'the temp file exists before any byte (was: a probe, removed at once)');
    const ino = (await stat(join(root, made))).ino;
    await prepared.write(source('bytes'), ctx());
    assert.equal((await stat(join(root, 'a.txt'))).ino, ino, 'the write filled that same file');
    assert.deepEqual(await temps(), []);

    const unused = await s.prepareWrite(v('/b.txt'), { offset: 0, append: false }, ctx());
    assert.equal((await temps()).length, 1);
    await unused.release(); // no data connection came (425, ABOR)
    assert.deepEqual(await readdir(root), ['a.txt']);
  });

  // An append-only directory (chattr +a) refuses the unlink even to root: the temp file stays, and
  // the session is told so it logs it (README: a warn line names it).
  it('released in a directory that refuses its removal, it is told of with the errno', async (t) => {
    const root = await tempDir(t, 'upload-temp-left');
    await mkdir(join(root, 'd'));
    const s = new LocalStorage({ root });
    const left: string[] = [];
    const c = { ...ctx(), tempLeft: (p: string, temp: string, errno: string) => left.push(`${p} ${errno}`) };
    const unused = await s.prepareWrite(v('/d/b.txt'), { offset: 0, append: false }, c);
    if (!(await chattr('+a', join(root, 'd')))) return t.skip('chattr +a not supported here');
    try {
      await unused.release();
    } finally {
      await chattr('-a', join(root, 'd'));
    }
    assert.deepEqual(left, ['/d/b.txt EPERM']);
  });

  it('is not made in a directory moved out of the root while the upload waited for its lock', async (t) => {
    const [root, outside] = [await tempDir(t, 'jail-root'), await tempDir(t, 'jail-outside')];
    await mkdir(join(root, 'd'));
    const locks = new WatchedLocks();
    const s = new LocalStorage({ root, locks });
    const first = await s.prepareWrite(v('/d/new.txt'), APPEND, ctx());
    const second = s.prepareWrite(v('/d/new.txt'), APPEND, ctx());
    second.catch(() => {}); // asserted below
    await locks.asked(2); // the second waits for the first's lock, its directory pinned
    await rename(join(root, 'd'), join(outside, 'd'));
    await first.release();
    // Refused at the jail check, before its temp file (was: a probe made and removed out there).
    await rejectsKind(second, 'permission-denied');
    assert.deepEqual(await readdir(join(outside, 'd')), [], 'nothing made outside the root');
    assert.deepEqual(await readdir(root), []);
    await assert.rejects(readFile(join(outside, 'd', 'new.txt')));
  });
});
