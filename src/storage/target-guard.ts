// An upload that keeps the existing file's bytes (APPE, REST n + STOR) builds the new version from
// the file pinned at its start and renames it over the target: whoever changed the target in
// between would lose their bytes. In this process such uploads to one target take turns
// (UploadLocks); other processes' writes are caught just before the rename and refuse the upload.
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { StorageError } from '../errors.js';
import type { FdJail, Pinned } from './fd-jail.js';
import { mapFsError, storageError, throwIfAborted } from './fs-errors.js';
import type { WriteTarget } from './local-write.js';
import type { MetaFs } from './meta-fs.js';
import type { StorageContext, VPath } from './types.js';
import type { UploadLocks } from './upload-locks.js';
import { COMMIT_LOCK_PREFIX, STALE_LOCK_MS } from './upload-temp.js';

/** Whether an upload's result depends on the file already there. */
export function keepsExisting(o: { offset: number; append: boolean }): boolean {
  return o.append || o.offset > 0;
}

/**
 * Takes `t`'s lock, then pins the file there again: the one pinned before may have been replaced
 * by the upload that held the lock meanwhile. Returns the target with the file as it is now (the
 * one pinned before is closed), the release, and `moved`, the holder's report of each step of its
 * upload (told to `c.progress` of those waiting); on failure nothing is held but `t` (the caller's).
 */
export async function lockTarget(
  jail: FdJail,
  locks: UploadLocks,
  t: WriteTarget,
  c: StorageContext,
  p: VPath,
): Promise<{ target: WriteTarget; unlock: () => void; moved: () => void }> {
  // The directory's identity, not a client path: other paths (a folder, a link, another user's
  // home) may name the same file.
  const key = `${t.dir.st.dev}:${t.dir.st.ino}/${t.name}`;
  const unlock = await locks.acquire(key, c.signal, c.progress);
  let now: Pinned | undefined;
  try {
    now = await jail.pinAt(t.dir, t.name, 'write', p);
    if (now?.st.isDirectory()) throw storageError('is-directory', 'write', p);
    if (now && !now.st.isFile()) throw storageError('permission-denied', 'write', p); // a link put there meanwhile
  } catch (err) {
    await now?.close();
    unlock();
    throw mapFsError(err, 'write', p);
  }
  await t.existing?.close();
  return { target: { ...t, existing: now }, unlock, moved: () => locks.moved(key) };
}

/**
 * Renames the finished temp file over the target only if the target's name still holds the file
 * pinned at the start, unchanged (or still nothing, if there was nothing); else refuses (transient:
 * 451 after the 150, try again) and replaces nothing: another process's rename, append or rewrite since would be
 * overwritten. The check and the rename run back to back (MetaFs.renameIf); what another process
 * writes between them (a window of microseconds; wider on a slow filesystem, where they go through
 * the thread pool) is still lost, as is a rewrite keeping the size within one tick of the
 * filesystem's clock: closing those needs a lock that every writer honours.
 */
export async function renameIfUnchanged(
  meta: MetaFs,
  from: string,
  t: WriteTarget,
  p: VPath,
  signal: AbortSignal,
): Promise<void> {
  const was = t.existing?.st;
  const unchanged = (now: Stats | undefined): boolean =>
    now === undefined ? was === undefined : was !== undefined && sameVersion(now, was);
  const changed = (): StorageError =>
    new StorageError('transient', `write ${p}: the file changed during the upload; nothing was replaced`);
  // Another process (a worker) committing to this name right now: its check and rename, and ours,
  // must not interleave (both would pass the check, and the second rename would drop the first's).
  const lock = await commitLock(t);
  if (!lock) throw changed();
  try {
    throwIfAborted(signal); // cut while the lock was taken: its 426 may be out, nothing is replaced
    if (await meta.renameIf(from, t.dir.child(t.name), unchanged)) return;
  } finally {
    const mine = await lock.fh.stat().catch(() => undefined);
    if (mine) await unlinkIfSame(lock.path, mine);
    await lock.fh.close().catch(() => {}); // only now: while open, its inode number cannot go to a new lock
  }
  throw changed();
}

/**
 * Takes the name's commit lock, across processes: a file created with O_EXCL beside the target,
 * named like an upload temp file (never listed, never addressable). Its path and the lock held
 * open (to remove it only if still ours), or undefined when another process holds it.
 */
async function commitLock(t: WriteTarget): Promise<{ path: string; fh: FileHandle } | undefined> {
  const hash = createHash('sha256').update(t.name).digest('hex').slice(0, 24);
  const lock = t.dir.child(`${COMMIT_LOCK_PREFIX}${hash}.tmp`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      return { path: lock, fh: await open(lock, flags, 0o600) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await lstat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs < STALE_LOCK_MS) return undefined;
      if (st) await unlinkIfSame(lock, st); // not one another process cleared and took meanwhile
    }
  }
  return undefined;
}

/**
 * Removes our lock only if its name still holds it: one a sweep took for stale, or another process
 * cleared after STALE_LOCK_MS and took again, is not ours to remove.
 */
async function unlinkIfSame(path: string, mine: Stats): Promise<void> {
  const now = await lstat(path).catch(() => undefined);
  if (now?.ino === mine.ino && now.dev === mine.dev) await unlink(path).catch(() => {});
}

function sameVersion(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
