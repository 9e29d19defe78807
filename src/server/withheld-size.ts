// A client resuming an upload reads the remote file's size first (SIZE; MLST of the file) and, when
// it is not less than its local file's, sends nothing and reports success (curl -C - -T, lftp put
// -c, ferry put -c). After a cut replacement that size is the previous version's (uploads are
// atomic), so transfer.ts's refusal of REST/APPE never comes and the old file stays. The user whose
// replacement was cut is therefore not told that version's size: the client uploads the file whole.
// Other users see the file as it is; listings (LIST, MLSD) keep the size (a resume from them is
// refused by transfer.ts).
import { fileOf, type FileStat, type VPath } from '../storage/types.js';
import { cutKey, type CutUploads } from './cut-uploads.js';

/** Whether `st` (at `p`) is the version a cut replacement of `username`'s left. */
export async function sizeWithheld(
  cuts: CutUploads,
  username: string,
  p: VPath,
  st: FileStat,
): Promise<boolean> {
  const file = fileOf(st);
  if (!file) return false;
  const version = { id: file.id, size: file.size, modified: file.modified.getTime() };
  return cuts.isCut(cutKey(username, p), () => Promise.resolve(version));
}
