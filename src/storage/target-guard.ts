// An upload that keeps the existing file's bytes (APPE, REST n + STOR) builds the new version from
// the file pinned at its start and renames it over the target: whoever changed the target in
// between would lose their bytes. In this process such uploads to one target take turns
// (UploadLocks); other processes' writes are caught just before the rename and refuse the upload.
import type { Stats } from 'node:fs';
import { StorageError } from '../errors.js';
import type { FdJail, Pinned } from './fd-jail.js';
import { mapFsError, storageError } from './fs-errors.js';
import type { WriteTarget } from './local-write.js';
import type { MetaFs } from './meta-fs.js';
import type { VPath } from './types.js';
import type { UploadLocks } from './upload-locks.js';

/** Whether an upload's result depends on the file already there. */
export function keepsExisting(o: { offset: number; append: boolean }): boolean {
  return o.append || o.offset > 0;
}

/**
 * Takes `t`'s lock, then pins the file there again: the one pinned before may have been replaced
 * by the upload that held the lock meanwhile. Returns the target with the file as it is now (the
 * one pinned before is closed) and the release; on failure nothing is held but `t` (the caller's).
 */
export async function lockTarget(
  jail: FdJail,
  locks: UploadLocks,
  t: WriteTarget,
  signal: AbortSignal,
  p: VPath,
): Promise<{ target: WriteTarget; unlock: () => void }> {
  // The directory's identity, not a client path: other paths (a folder, a link, another user's
  // home) may name the same file.
  const unlock = await locks.acquire(`${t.dir.st.dev}:${t.dir.st.ino}/${t.name}`, signal);
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
  return { target: { ...t, existing: now }, unlock };
}

/**
 * Renames the finished temp file over the target only if the target's name still holds the file
 * pinned at the start, unchanged (or still nothing, if there was nothing); else refuses (transient:
 * 450, try again) and replaces nothing: another process's rename, append or rewrite since would be
 * overwritten. The check and the rename run back to back (MetaFs.renameIf); what another process
 * writes between them (a window of microseconds; wider on a slow filesystem, where they go through
 * the thread pool) is still lost, as is a rewrite keeping the size within one tick of the
 * filesystem's clock: closing those needs a lock that every writer honours.
 */
export async function renameIfUnchanged(meta: MetaFs, from: string, t: WriteTarget, p: VPath): Promise<void> {
  const was = t.existing?.st;
  const unchanged = (now: Stats | undefined): boolean =>
    now === undefined ? was === undefined : was !== undefined && sameVersion(now, was);
  if (await meta.renameIf(from, t.dir.child(t.name), unchanged)) return;
  throw new StorageError('transient', `write ${p}: the file changed during the upload; nothing was replaced`);
}

function sameVersion(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
