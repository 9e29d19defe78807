// The reply to a resume (REST n + STOR, APPE) onto a file a cut upload left as it was
// (server/cut-uploads.ts). ProFTPD's words in it make lftp upload the file whole instead (it does so
// for "451 … Append/Restart not permitted"); Ferry's client knows it by its start and does the same.
import { Code } from './codes.js';

export const RESUME_REFUSED_CODE = Code.LocalError;
export const RESUME_REFUSED_TEXT =
  'Resume refused (Append/Restart not permitted): an upload of this file did not complete, and the file still holds its previous version: upload it whole (without REST or APPE).';

/** A reply that is this refusal. */
export function isResumeRefused(code: number, text: string): boolean {
  return code === RESUME_REFUSED_CODE && text.startsWith('Resume refused');
}

/**
 * SIZE of such a file, to the user whose upload was cut (server/withheld-size.ts): the previous
 * version's size would tell a resuming client that its file is all there. 504, tried with the
 * clients: 550 is "no such file" to curl (its download fails); on a 4xx lftp reconnects and ftplib
 * raises error_temp; on 500/502 lftp takes SIZE for unsupported on the whole connection.
 */
export const SIZE_WITHHELD_CODE = Code.NotImplementedForParam;
// "has not completed": the record stands from a replacement's start, so also while it still runs.
export const SIZE_WITHHELD_TEXT =
  'Size not given: an upload of this file has not completed, and the file still holds its previous version: upload it whole.';
