// A client resuming an upload reads the remote file's size first (SIZE; MLST of the file) and, when
// it is not less than its local file's, sends nothing and reports success (curl -C - -T, lftp put
// -c, ferry put -c). After a cut replacement that size is the previous version's (uploads are
// atomic), so transfer.ts's refusal of REST/APPE never comes and the old file stays. The user whose
// replacement was cut is therefore not told that version's size: the client uploads the file whole.
// Other users see the file as it is; listings (LIST, MLSD) keep the size (a resume from them is
// refused by transfer.ts).
//
// Only a user who may replace the file can have a replacement cut and resume it (an upload onto an
// existing file needs `overwrite`): for anyone else (read-only and anonymous-read accounts) no
// record is looked for, which SIZE, sent by curl before each download, would pay for otherwise.
import { permits } from '../auth/permissions.js';
import type { Principal } from '../auth/types.js';
import { fileOf, type FileStat, type VPath } from '../storage/types.js';
import { cutKey, type CutUploads } from './cut-uploads.js';

/** Whether `st` (at `p`) is the version a cut replacement of `principal`'s left. */
export async function sizeWithheld(
  cuts: CutUploads,
  principal: Principal,
  p: VPath,
  st: FileStat,
): Promise<boolean> {
  const file = fileOf(st);
  if (!file || !permits(principal, 'overwrite', p)) return false;
  const version = { id: file.id, size: file.size, modified: file.modified.getTime() };
  return cuts.isCut(cutKey(principal.username, p), () => Promise.resolve(version));
}
