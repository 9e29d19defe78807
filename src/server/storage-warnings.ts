// Storage failures that the replies alone hide from an administrator: a storage service that is
// down (every command gets 451) or that refuses requests as they are (553 naming its error), a
// file system that turned read-only or filled up (not a user's quota: the disk). Each
// is a warn line, limited server-wide (not per client address: one outage hits every session).
import { StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
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
  const msg =
    err.kind === 'unavailable'
      ? 'storage unavailable: commands get 451'
      : err.kind === 'refused'
        ? 'storage refused a request: 553 (550 to commands RFC 959 allows no 553)'
        : err.kind === 'permission-denied' && errno === 'EROFS'
          ? 'storage is read-only (EROFS): changes get 550 (553 to STOR)'
          : err.kind === 'quota-exceeded' && (errno === 'ENOSPC' || errno === 'EDQUOT')
            ? `storage full (${errno}): uploads get 552`
            : undefined;
  const cause = causeOf(err);
  if (!msg) {
    // The filesystem refusing the server's own user (a directory it may not write, a sticky one):
    // maybe as the administrator meant it, so not a warning, but the reply alone does not say why.
    if (err.kind === 'permission-denied' && (errno === 'EACCES' || errno === 'EPERM'))
      log.info({ ...at, error: err.message, cause }, `the filesystem refused the server's user (${errno})`);
    return;
  }
  warnings.warn(log, STORAGE_WARNINGS, { ...at, error: err.message, ...(cause ? { cause } : {}) }, msg);
}
