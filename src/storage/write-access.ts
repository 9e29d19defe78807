// Before the 150: the upload's own first steps, so that a refusal the filesystem makes for good (a
// directory the server's user may not write, a read-only mount, no inode left, a sticky directory's
// file of another owner, a kept file it may not read) comes before the client sends its data, with
// a permanent reply: after the 150 only 451 ("try again") would fit, and lftp retries such an upload
// about a thousand times. What they open is the upload's, handed on to its write (local-write.ts).
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { FdJail } from './fd-jail.js';
import { mapFsError } from './fs-errors.js';
import { REOPEN_READ, type WriteTarget } from './local-write.js';
import type { VPath } from './types.js';
import { discardTemp, newTempName, type LeftTemps, type TempLeft } from './upload-temp.js';

/** The sticky bit (not in node's fs.constants). */
const S_ISVTX = 0o1000;
/** O_EXCL reserves a fresh name and never follows a planted symlink. */
const TEMP_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** What an upload writes through: owned by its write (or, never written, by its release). */
export interface UploadFiles {
  /** The temp file, by its directory's descriptor: it stays open until the rename or its removal. */
  readonly tmpPath: string;
  readonly tmp: FileHandle;
  /** The kept file opened for reading (APPE, REST + STOR): its bytes are copied from it. */
  readonly kept: FileHandle | undefined;
}

/**
 * Creates the upload's temp file in the target's directory (verified first: it may have moved out of
 * the root while the upload waited for its lock), checks the sticky rule for the rename over another
 * owner's file, and opens the kept file (APPE, REST). A refusal leaves nothing behind.
 */
export async function openUpload(
  jail: FdJail,
  t: WriteTarget,
  keepsBytes: boolean,
  p: VPath,
  temps: LeftTemps,
  left?: TempLeft,
): Promise<UploadFiles> {
  await jail.verify(t.dir.fd, 'write', p);
  const tmpPath = t.dir.child(newTempName());
  let tmp: FileHandle | undefined;
  try {
    tmp = await open(tmpPath, TEMP_FLAGS, 0o666);
    if (t.existing && stickyRefuses(t.dir.st, t.existing.st, process.geteuid?.()))
      throw Object.assign(new Error('rename over a file of another owner in a sticky directory'), {
        code: 'EPERM',
      });
    const kept = keepsBytes && t.existing ? await open(t.existing.path, REOPEN_READ) : undefined;
    return { tmpPath, tmp, kept };
  } catch (err) {
    if (tmp) await discardTemp(tmpPath, tmp, temps, left);
    throw mapFsError(err, 'write', p);
  }
}

/** Lets go of an upload that was never written: its temp file removed, the kept file closed. */
export async function releaseUpload(f: UploadFiles, temps: LeftTemps, left?: TempLeft): Promise<void> {
  await discardTemp(f.tmpPath, f.tmp, temps, left);
  await f.kept?.close().catch(() => {});
}

/** rename(2)'s sticky-directory rule: only the file's or the directory's owner (or root) replaces it. */
export function stickyRefuses(dir: Stats, file: Stats, euid: number | undefined): boolean {
  if (euid === undefined || euid === 0 || (dir.mode & S_ISVTX) === 0) return false;
  return file.uid !== euid && dir.uid !== euid;
}
