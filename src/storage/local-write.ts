// Atomic uploads for LocalStorage: the bytes go to a temp file created inside the verified target
// directory (by its descriptor, before the 150: write-access.ts), are made durable, and replace the target by one rename through
// the same descriptor, re-verified just before. A failed upload removes what it created. One that
// keeps the existing bytes first checks nobody changed the target meanwhile (target-guard.ts).
import { constants, type Stats } from 'node:fs';
import { copyFile, link, lstat, open, rename, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, StorageError } from '../errors.js';
import { fdPath, type FdJail, type Pinned } from './fd-jail.js';
import { FileWriter } from './file-writer.js';
import {
  abortedError,
  createdMeanwhile,
  errnoCode,
  mapFsError,
  storageError,
  throwIfAborted,
} from './fs-errors.js';
import { CHUNK, isRecycling } from './recycling.js';
import type { StorageContext, VPath } from './types.js';
import { keepsExisting, renameIfUnchanged } from './target-guard.js';
import { unlinkIfSame, type LeftTemps } from './upload-temp.js';
import type { UploadFiles } from './write-access.js';
import { checkRestart } from './prepared-write.js';

/**
 * Reopening a pinned file through its magic link (which O_NOFOLLOW would refuse: the link itself is
 * the last component). O_NONBLOCK: a FIFO swapped in must not park a libuv thread.
 */
export const REOPEN_READ = constants.O_RDONLY | constants.O_NONBLOCK;

function noop(): void {}

export interface WriteTarget {
  /** Verified directory the file is in (the final one, after following a link inside the root). */
  dir: Pinned;
  name: string;
  /** The regular file there now, if any. */
  existing: Pinned | undefined;
  /** Nothing there, and nothing may be replaced: the commit creates the name or refuses. */
  exclusive?: boolean;
}

/** Writes `src` through `files` (its own from here: closed, the temp file removed unless renamed). */
export async function atomicWrite(
  jail: FdJail,
  t: WriteTarget,
  files: UploadFiles,
  src: Readable,
  o: { offset: number; append: boolean },
  c: StorageContext,
  p: VPath,
  temps: LeftTemps,
): Promise<{ bytes: number }> {
  const existing = t.existing?.st;
  checkRestart(p, o, existing?.size);
  const keep = o.append ? (existing?.size ?? 0) : o.offset;

  const { tmpPath, tmp, kept } = files;
  // pipeline re-raises the first failure on the other stream too, so whichever failed first decides:
  // the client's data connection (passed through) or the disk (mapped, e.g. ENOSPC → 552).
  let srcError: unknown;
  let destError: unknown;
  let firstFailed: 'src' | 'dest' | undefined;
  const onSrcError = (err: unknown): void => {
    srcError ??= err;
    firstFailed ??= 'src';
  };
  src.on('error', onSrcError);
  // A stage of the source may have failed before this write began: a quota refusal of the very
  // first chunk, while the target was being pinned (else taken for a reset data connection, 426).
  if (src.errored) onSrcError(src.errored);
  let ws: FileWriter | undefined;
  let committed = false;
  /** The copy of the kept bytes still running beside the client's (see below); stopped on failure. */
  let copying: Promise<void> | undefined;
  const stopCopy = new AbortController();
  try {
    // The temp file's one descriptor is used for every step; it stays open until the rename, which
    // marks the upload as in progress.
    // The bytes kept (APPE, REST n + STOR) are copied while the client's come, each written at its
    // own offset: a copy first (minutes for a big file) left the client without traffic, and it gave
    // up (curl's 60 s response timeout, Ferry's client's data timeout) while the data timeout blamed
    // storage (451); its retry copied the whole again.
    if (keep > 0 && t.existing) {
      if (!kept) throw new Error('atomicWrite: the kept file was not opened');
      const signal = AbortSignal.any([c.signal, stopCopy.signal]);
      copying = (await startPrefixCopy(kept, t.existing.st, tmp, keep, signal, c.progress))?.done;
    }
    if (existing) {
      // The replaced file's owner and group (a server running as root: the file keeps belonging to
      // whom it belonged, as when written in place), then its permission bits: never setuid or
      // setgid (a client's bytes must not run as the file's owner; a write in place clears them
      // too), nor sticky, as SITE CHMOD never sets them.
      if (existing.uid !== process.getuid?.() || existing.gid !== process.getgid?.())
        await tmp.chown(existing.uid, existing.gid).catch(() => {}); // not ours to give: stays ours
      await tmp.chmod(existing.mode & 0o777);
    }
    // A source that reads into its chunks again gets them back once written (gathered-upload.ts).
    const recycle = isRecycling(src) ? (chunk: Buffer) => src.recycle(chunk) : undefined;
    ws = new FileWriter(tmp, keep, { recycle, taken: c.progress });
    ws.once('error', (err) => {
      destError ??= err;
      firstFailed ??= 'dest';
    });
    // A failed copy (a full disk, a read error) fails the write as the disk's own failure would.
    const writer = ws;
    const copied = copying?.catch((err: unknown) => {
      writer.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    copied?.catch(noop); // awaited below, once the client's bytes are all written
    await pipeline(src, ws, { signal: c.signal });
    await copied; // the 226 only once both are written
    await tmp.sync(); // durable before it replaces anything
    await jail.verify(t.dir.fd, 'write', p);
    await assertSameFile(tmpPath, tmp, p);
    // Cut (ABOR, the client gone) while the steps above ran (a slow fsync): its 426 may be out
    // already, so nothing may be replaced now.
    throwIfAborted(c.signal);
    if (keepsExisting(o)) await renameIfUnchanged(jail.meta, tmpPath, t, p, c.signal);
    else if (t.exclusive) await createOnly(tmpPath, t, p);
    else await rename(tmpPath, t.dir.child(t.name)); // a whole new version: nothing to keep
    committed = true;
    if (t.exclusive && !keepsExisting(o)) {
      const left = await unlinkIfSame(tmpPath, tmp, temps); // the temp's name, now a second link
      if (left !== undefined) c.tempLeft?.(p, basename(tmpPath), left);
    }
    await syncDir(t.dir);
    return { bytes: ws.bytesWritten };
  } catch (err) {
    // Decided before any await: the data connection closing because of this very failure (a quota
    // stage destroys it) may abort the signal meanwhile, and must not turn a 552 into a 426.
    const failure = needsRoomForCopy(
      uploadFailure(err, { src, srcError, destError, firstFailed, signal: c.signal }, p),
      keep,
    );
    const left = committed ? undefined : await unlinkIfSame(tmpPath, tmp, temps);
    if (left !== undefined) c.tempLeft?.(p, basename(tmpPath), left);
    throw failure;
  } finally {
    src.off('error', onSrcError);
    stopCopy.abort(); // the upload failed (a copy done meanwhile is not harmed)
    await copying?.catch(noop); // its last read and write, before the files close
    await tmp.close().catch(noop); // waits for writes still in flight
    await kept?.close().catch(noop);
    await temps.removeIn(t.dir); // an earlier upload's, left here while the directory was not writable
  }
}

interface Failures {
  src: Readable;
  srcError: unknown;
  destError: unknown;
  firstFailed: 'src' | 'dest' | undefined;
  signal: AbortSignal;
}

/** The error an upload that failed with `err` reports, from what failed first. */
function uploadFailure(err: unknown, f: Failures, p: VPath): unknown {
  // A refusal by a stage of the source (the quota) is the reason, even if the transfer was then aborted.
  if (f.srcError instanceof FerryError && f.srcError.code === 'ERR_QUOTA_EXCEEDED') return f.srcError;
  if (f.signal.aborted) return abortedError(f.signal);
  // The source closed without ending or failing (a reset data connection): an aborted transfer.
  if (f.srcError === undefined && f.src.destroyed && !f.src.readableEnded)
    return new FerryError('ERR_ABORTED', 'The upload closed before its end.', { cause: err });
  // The data connection's own failure is the caller's to interpret; pass it through.
  if (f.firstFailed === 'dest') return mapFsError(f.destError, 'write', p);
  if (f.srcError !== undefined && err === f.srcError) return err;
  return mapFsError(err, 'write', p);
}

/**
 * A full disk under an upload that keeps bytes (APPE, REST n + STOR): the new version is a copy of
 * them plus the new ones, so it needs room for the whole file, which a user seeing free space left
 * would not guess from `552 Insufficient storage space.` alone. Not Ferry's quota (a QuotaError).
 */
function needsRoomForCopy(err: unknown, keep: number): unknown {
  if (keep === 0 || !(err instanceof StorageError) || err.kind !== 'quota-exceeded') return err;
  if (err.detail !== undefined) return err;
  const detail = `the new version is written beside the old, which needs room for a copy of its ${keep} bytes kept`;
  return new StorageError('quota-exceeded', err.message, { cause: err.cause, detail });
}

/**
 * Starts copying the first `length` bytes of `from` (opened for reading; `st` its stat when pinned)
 * into the start of `to` (REST and APPE keep the old bytes): a reflink (btrfs, XFS) is done at once;
 * else `to` is sized and the copy returned running (`done`), by offsets (the new bytes may be written past
 * `length` meanwhile: no kernel copy, which opens its target truncated), each chunk a `progress`.
 */
async function startPrefixCopy(
  from: FileHandle,
  st: Stats,
  to: FileHandle,
  length: number,
  signal: AbortSignal,
  progress: (() => void) | undefined,
): Promise<{ done: Promise<void> } | undefined> {
  // A reflink between the two opened inodes, reopened through their magic links.
  if (length === st.size && (await cloned(fdPath(from.fd), fdPath(to.fd)))) return undefined;
  await to.truncate(length);
  return { done: copyLeavingHoles(from, to, length, signal, progress) };
}

/** A reflink copy (btrfs, XFS): instant, holes kept. False where the filesystem makes none. */
function cloned(src: string, dest: string): Promise<boolean> {
  return copyFile(src, dest, constants.COPYFILE_FICLONE_FORCE).then(
    () => true,
    () => false,
  );
}

const HOLE = 64 * 1024;
const ZEROS = Buffer.alloc(HOLE);

/**
 * Copies the first `length` bytes (`to` sized already), writing nothing for each block of HOLE
 * zeros: it stays a hole in `to`. Without it a kernel copy writes a sparse file's holes out as zeros
 * (a 1 TB file of holes fills the disk).
 */
async function copyLeavingHoles(
  fh: FileHandle,
  to: FileHandle,
  length: number,
  signal: AbortSignal,
  progress: (() => void) | undefined,
): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; pos < length;) {
    throwIfAborted(signal);
    progress?.();
    const { bytesRead: n } = await fh.read(buf, 0, Math.min(CHUNK, length - pos), pos);
    if (n === 0) return; // the file shrank meanwhile: the target guard refuses the upload
    let data = 0; // where the bytes not written yet start: a run of blocks that are not all zeros
    for (let at = 0; at < n; at += HOLE) {
      const end = Math.min(at + HOLE, n);
      if (!buf.subarray(at, end).equals(ZEROS.subarray(0, end - at))) continue;
      await writeAt(to, buf.subarray(data, at), pos + data);
      data = end;
    }
    await writeAt(to, buf.subarray(data, n), pos + data);
    pos += n;
  }
}

async function writeAt(fh: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;)
    done += (await fh.write(bytes, done, bytes.length - done, position + done)).bytesWritten;
}

/**
 * Gives the temp file the target's name only if that name is still free (link(2) fails on an
 * existing name, atomically); the temp's own name stays, for the caller to remove. Else refuses,
 * replacing nothing: replacing a file needs `overwrite`, which the upload was admitted without.
 */
async function createOnly(tmpPath: string, t: WriteTarget, p: VPath): Promise<void> {
  const target = t.dir.child(t.name);
  try {
    await link(tmpPath, target);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') throw createdMeanwhile(p);
    // A filesystem without hard links (vfat, some FUSE): the check and the rename back to back.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    const there = await lstat(target).then(
      () => true,
      (e: unknown) => errnoCode(e) !== 'ENOENT',
    );
    if (there) throw createdMeanwhile(p);
    await rename(tmpPath, target);
  }
}

async function assertSameFile(path: string, fh: FileHandle, p: VPath): Promise<void> {
  const [now, mine] = await Promise.all([lstat(path), fh.stat()]);
  if (now.ino !== mine.ino || now.dev !== mine.dev) throw storageError('transient', 'write', p);
}

/** Makes the rename durable; best effort (some filesystems refuse fsync on directories). */
async function syncDir(dir: Pinned): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir.path, constants.O_RDONLY | constants.O_DIRECTORY);
    await fh.sync();
  } catch {
    // ignore: the data itself is already synced
  } finally {
    await fh?.close().catch(noop);
  }
}
