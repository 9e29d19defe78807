// Storage failures that the replies alone hide from an administrator: a storage service that is
// down (every command gets 451) or that refuses requests as they are (553 naming its error), a
// file system that turned read-only or filled up (not a user's quota: the disk), a process out of
// descriptors, an errno Ferry does not map (EIO). Each is a warn line, limited server-wide (not per
// client address: one outage hits every session).
import { StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { outOfDescriptors, warnOutOfDescriptors } from './descriptors.js';
import type { WarningLimiter } from './warning-limiter.js';

/** The key the server's WarningLimiter counts these lines under (its "suppressed" line names it). */
export const STORAGE_WARNINGS = 'storage';

/** The root cause's name and message (an SDK or socket error), shortened; never the request itself. */
export function causeOf(err: Error): string | undefined {
  let c: unknown = err.cause;
  while (c instanceof Error && c.cause instanceof Error) c = c.cause;
  if (!(c instanceof Error)) return undefined;
  const code = (c as { code?: unknown }).code;
  const name = typeof code === 'string' && c.name === 'Error' ? code : c.name;
  // A system error's message starts with its code already (`ENOSPC: no space left on device`).
  const message = c.message.slice(0, 200);
  return message.startsWith(`${name}:`) ? message : `${name}: ${message}`;
}

/** The errno code (`EROFS`) an error was made from, anywhere in its cause chain. */
function errnoOf(err: Error): string | undefined {
  for (let c: unknown = err; c instanceof Error; c = c.cause) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}

/** The name of the error at the root of `err`'s causes (an S3 SDK error's: `QuotaExceeded`). */
function rootName(err: Error): string | undefined {
  let c: unknown = err.cause;
  while (c instanceof Error && c.cause instanceof Error) c = c.cause;
  return c instanceof Error ? c.name : undefined;
}

/** What an error says to an administrator, by its kind and errno; undefined: nothing to warn of. */
function warningFor(
  kind: StorageError['kind'],
  errno: string | undefined,
  root: string | undefined,
): string | undefined {
  if (kind === 'unavailable') return 'storage unavailable: commands get 451';
  if (kind === 'refused') return 'storage refused a request: 553 (550 to commands RFC 959 allows no 553)';
  if (kind === 'permission-denied' && errno === 'EROFS')
    return 'storage is read-only (EROFS): changes get 550 (553 to STOR)';
  if (kind === 'quota-exceeded' && (errno === 'ENOSPC' || errno === 'EDQUOT'))
    return `storage full (${errno}): uploads get 552`;
  // The S3 gateway's own limits, which no Ferry setting shows: its administrator must raise them.
  if (kind === 'quota-exceeded' && root === 'QuotaExceeded')
    return 'storage full: the S3 gateway refused the object over a quota of its own (QuotaExceeded): uploads get 552';
  if (kind === 'quota-exceeded' && root === 'EntityTooLarge')
    return 'storage refused an object this large (EntityTooLarge, a limit of the S3 gateway): 552';
  // An errno fs-errors.ts does not map (EIO, ESTALE…): the disk or the mount may be failing, and
  // every command touching it gets 450 until someone looks.
  if (kind === 'transient' && errno !== undefined) return `storage failed (${errno}): commands get 450`;
  return undefined;
}

/**
 * After an error became a reply: warns (rate-limited) when the storage was unavailable (451),
 * refused the request (553), is read-only or is full. `log`: the session's logger without its own per-address limit.
 */
export function warnStorageError(
  warnings: WarningLimiter,
  log: Logger,
  err: unknown,
  at: { user?: string; command?: string },
): void {
  if (!(err instanceof StorageError)) return;
  const errno = errnoOf(err);
  const cause = causeOf(err);
  if (outOfDescriptors({ code: errno })) {
    // The same line (and limit) as a PASV or an accept failing for it: one cause, one warning.
    warnOutOfDescriptors(log, warnings, 'storage', { ...at, error: err.message });
    return;
  }
  const msg = warningFor(err.kind, errno, rootName(err));
  if (!msg) {
    // The filesystem refusing the server's own user (a directory it may not write, a sticky one):
    // maybe as the administrator meant it, so not a warning, but the reply alone does not say why.
    if (err.kind === 'permission-denied' && (errno === 'EACCES' || errno === 'EPERM'))
      log.info({ ...at, error: err.message, cause }, `the filesystem refused the server's user (${errno})`);
    return;
  }
  warnings.warn(log, STORAGE_WARNINGS, { ...at, error: err.message, ...(cause ? { cause } : {}) }, msg);
}
