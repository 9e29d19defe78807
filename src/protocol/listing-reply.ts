import type { Reply } from './reply.js';

/**
 * What a listing's 2xx reply may say against its own success: some servers end a listing that is
 * not the directory's contents with 226 all the same. vsftpd answers LIST for a directory it may
 * enter but not read with `226 Transfer done (but failed to open directory).` and no data; Pure-FTPd
 * stops at its limit (-L, 10,000 entries by default) with `226 Output truncated to 10000 matches`.
 * A client that took either for the contents would see files missing (and `mirror --delete` would
 * delete their copies).
 */
export type ListingProblem = 'unreadable' | 'truncated';

const TRUNCATED = /\btruncated\b/i;
const UNREADABLE = /\b(?:failed|failure|cannot|can't|could not|unable)\b/i;

/** The problem a listing command's final 2xx reply admits to, any line of it; undefined: none. */
export function listingProblem(r: Reply): ListingProblem | undefined {
  if (r.lines.some((l) => TRUNCATED.test(l))) return 'truncated';
  if (r.lines.some((l) => UNREADABLE.test(l))) return 'unreadable';
  return undefined;
}
