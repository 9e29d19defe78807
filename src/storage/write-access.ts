// Before the 150: would the filesystem take this upload? A refusal it makes for good (a directory the
// server's user may not write, a read-only mount, a sticky directory's file of another owner) must
// come before the client sends its data, with a permanent reply: after the 150 only 451 ("try
// again") would fit, and lftp retries such an upload about a thousand times.
import { constants, type Stats } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { mapFsError } from './fs-errors.js';
import type { WriteTarget } from './local-write.js';
import type { VPath } from './types.js';
import { newTempName } from './upload-temp.js';

/** The sticky bit (not in node's fs.constants). */
const S_ISVTX = 0o1000;
const PROBE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Does what the upload will do first, or checks what it cannot do ahead: creates (and removes) a
 * temp file in the target's directory (EACCES, EROFS, ENOSPC for inodes), checks the sticky bit's
 * rule for the rename over another's file (EPERM), and opens the kept file for reading (APPE, REST).
 */
export async function checkWriteAccess(t: WriteTarget, keepsBytes: boolean, p: VPath): Promise<void> {
  const probe = t.dir.child(newTempName());
  try {
    await (await open(probe, PROBE_FLAGS, 0o600)).close();
    await unlink(probe);
    if (t.existing && stickyRefuses(t.dir.st, t.existing.st, process.geteuid?.()))
      throw Object.assign(new Error('rename over a file of another owner in a sticky directory'), {
        code: 'EPERM',
      });
    if (keepsBytes && t.existing)
      await (await open(t.existing.path, constants.O_RDONLY | constants.O_NONBLOCK)).close();
  } catch (err) {
    throw mapFsError(err, 'write', p);
  }
}

/** rename(2)'s sticky-directory rule: only the file's or the directory's owner (or root) replaces it. */
export function stickyRefuses(dir: Stats, file: Stats, euid: number | undefined): boolean {
  if (euid === undefined || euid === 0 || (dir.mode & S_ISVTX) === 0) return false;
  return file.uid !== euid && dir.uid !== euid;
}
