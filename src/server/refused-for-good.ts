import { StorageError } from '../errors.js';

/** What the filesystem refuses the server's user for good: retrying changes nothing. */
const REFUSING = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * A write the filesystem refused for good (permissions, a read-only mount, the sticky rule), raw (the
 * file being written) or mapped with the errno as its cause: once a transfer's 150 is out it gets 551,
 * a permanent code RFC 959 5.4 allows there, not 451 ("try again", which lftp does a thousand times).
 * Only an errno counts: an S3 "permission denied" may be an expired token or a skewed clock, which
 * a retry can get past (451). So does an access rule's refusal (`permission`): a drop box upload
 * that finds, at its commit, the file another upload made meanwhile (needing `overwrite`).
 */
export function refusedForGood(err: unknown): boolean {
  for (let c: unknown = err; c instanceof Error; c = c.cause) {
    if (c instanceof StorageError && c.permission !== undefined) return true;
    const code = (c as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && REFUSING.has(code)) return true;
  }
  return false;
}
