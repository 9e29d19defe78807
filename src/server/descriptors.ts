import type { Logger } from '../logger.js';
import type { WarningLimiter } from './warning-limiter.js';

/** This process (EMFILE) or the whole system (ENFILE) has no file descriptor left to open. */
export function outOfDescriptors(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

export const OUT_OF_DESCRIPTORS =
  'out of file descriptors: raise the open-files limit (systemd LimitNOFILE=, ulimit -n) or lower maxSessions';

/**
 * Logs that the server ran out of descriptors (`what` failed), a few times a minute at most: at the
 * limit, every connection and PASV would log it again.
 */
export function warnOutOfDescriptors(
  logger: Logger,
  warnings: WarningLimiter | undefined,
  what: string,
  fields: object = {},
): void {
  const line = { ...fields, what };
  if (warnings) warnings.warn(logger, 'this server', line, OUT_OF_DESCRIPTORS);
  else logger.error(line, OUT_OF_DESCRIPTORS);
}
