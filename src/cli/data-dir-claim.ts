import type { Stats } from 'node:fs';
import { chown, lstat, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectory } from '../auth/file-owner.js';

/** The directory as this start made it: what must still be there before it is given away or removed. */
export interface MadeDir {
  readonly dev: number;
  readonly ino: number;
  readonly uid: number;
  readonly mode: number;
}

/** The data directory, and `made` when this start created it (else it was there already). */
export interface DataDirClaim {
  readonly dir: string;
  readonly made?: MadeDir;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Makes the data directory, deciding in the same step whether this start made it: the parents as
 * `mkdir -p`, the directory itself without -p, so that one someone else made first (a 1777 parent)
 * is an EEXIST, never adopted. `beforeMake` runs between the two (tests: a directory appearing).
 */
export async function claimDataDir(
  dir: string,
  beforeMake: () => Promise<void> = async () => {},
): Promise<DataDirClaim> {
  const abs = path.resolve(dir);
  await makeDirectory(path.dirname(abs));
  await beforeMake();
  try {
    await mkdir(abs, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { dir };
    throw err;
  }
  // As makeDirectory does: made by root in another's directory (a run-as user's home), it is theirs.
  if (isRoot()) {
    const parent = await stat(path.dirname(abs));
    if (parent.uid !== 0 || parent.gid !== 0) await chown(abs, parent.uid, parent.gid);
  }
  const st = await lstat(abs);
  return { dir, made: { dev: st.dev, ino: st.ino, uid: st.uid, mode: st.mode & 0o7777 } };
}

/** `st` is the directory this start made, unchanged in owner and mode. */
export function isMade(st: Stats, made: MadeDir): boolean {
  return (
    st.isDirectory() &&
    st.dev === made.dev &&
    st.ino === made.ino &&
    st.uid === made.uid &&
    (st.mode & 0o7777) === made.mode
  );
}

/** The claim's directory is still the one this start made (not replaced, not opened up). */
export async function stillMade(claim: DataDirClaim): Promise<boolean> {
  const { made } = claim;
  if (!made) return false;
  const st = await lstat(claim.dir).catch(() => undefined);
  return st !== undefined && isMade(st, made);
}
