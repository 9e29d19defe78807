import type { Account } from './account.js';

/** The name anonymous sessions have (logs, per-user limits, quota usage, rate buckets). */
export const ANONYMOUS_USER = 'anonymous';

/** The login names of anonymous FTP, case-insensitive (as vsftpd takes them). */
const ANONYMOUS_NAMES: ReadonlySet<string> = new Set([ANONYMOUS_USER, 'ftp']);

export function isAnonymousName(name: string): boolean {
  return ANONYMOUS_NAMES.has(name.toLowerCase());
}

/** The settings of the public account: an account's, without the name and the password. */
export type AnonymousSettings = Omit<Account, 'username' | 'passwordHash' | 'anonymous'>;

/**
 * The account anonymous logins get: any password logs in (none is stored). Read-only unless it
 * says `readOnly: false` or a permission rule allows more (a public area is not writable by
 * default, as vsftpd's anon_upload_enable=NO).
 */
export function anonymousAccount(settings: AnonymousSettings): Account {
  const readOnly = settings.readOnly ?? true;
  return { ...settings, readOnly, username: ANONYMOUS_USER, passwordHash: '', anonymous: true };
}

/** Why an account of this name cannot exist beside anonymous FTP, or undefined when it can. */
export function anonymousNameTaken(name: string): string | undefined {
  return isAnonymousName(name)
    ? `"${name}" is a login name of anonymous FTP (anonymous and ftp, in any case), which is enabled`
    : undefined;
}
