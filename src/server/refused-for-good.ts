import { StorageError } from '../errors.js';

/** What the filesystem refuses the server's user for good: retrying changes nothing. */
const REFUSING = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * A write storage refused for good (permissions, a read-only mount), raw (the file being written) or
 * mapped: once a transfer's 150 is out it gets 551, a permanent code RFC 959 5.4 allows there, not
 * 451 ("try again", which lftp does a thousand times).
 */
export function refusedForGood(err: unknown): boolean {
  if (err instanceof StorageError) return err.kind === 'permission-denied';
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && REFUSING.has(code);
}
