import { failureKind } from '../client/errors.js';
import type { Reconnect } from '../client/pool.js';
import { redactIn } from '../client/url.js';
import { printable, printableName } from './printable.js';

/**
 * An error of a client command as the user reads it: the server's words escaped (a terminal escape
 * in a reply), a password hidden wherever an argument is echoed (a URL taken for a local path:
 * ENOENT, open 'ftps:/bob:pw@h/x'), and a local file's failure said to be one.
 */
export function describeError(err: unknown): string {
  const shown = (text: string): string => printable(redactIn(withoutCodeHints(text), process.argv));
  // A batch's files left when every connection had closed carry no error of their own.
  if (err === undefined) return shown('not transferred: no connection left');
  if (!(err instanceof Error)) return shown(String(err));
  // Local file errors: Node's messages name the file and the reason (ENOENT: no such file…).
  if (failureKind(err) === 'local') return shown(`local file: ${err.message}`);
  return shown(err.message);
}

/**
 * A library message without what it tells code (` (from code: the options ca, …)`, `; from code,
 * dataProtection 'clear'`): a command's user has its flags, named in the same message.
 */
export function withoutCodeHints(text: string): string {
  return text.replace(/ \(from code: [^)]*\)/g, '').replace(/; from code, [^)]*/g, '');
}

/** `reconnecting in 2 s (attempt 2 of 5): <why>`: a batch or mirror replacing a lost connection. */
export function describeReconnect(r: Reconnect): string {
  return `reconnecting in ${r.pauseMs / 1000} s (attempt ${r.attempt} of ${r.attempts}): ${describeError(r.error)}`;
}

/** `connection lost (<why>): 2831 not transferred`: a batch or mirror's files never tried. */
export function describeLost(error: unknown, files: number): string {
  return `connection lost (${describeError(error)}): ${files} not transferred`;
}

/** What a retried listing names in `retrying … (1 of 5) after …`: the remote directory. */
export function listingOf(dir: string): string {
  return dir === '' ? 'the listing of the login directory' : `the listing of ${printableName(dir)}`;
}
