import path from 'node:path';
import type { Account } from '../auth/account.js';
import { USERNAME_PATTERN } from '../auth/account-schema.js';
import { passwordHashProblem } from '../auth/password.js';

/** A line `ferry users import` could not use, for the report (never with its hash). */
export interface SkippedLine {
  readonly line: number;
  readonly name: string;
  readonly reason: string;
}

/**
 * The accounts in an htpasswd file (`name:hash`), an /etc/shadow-style file
 * (`name:hash:lastchg:…`, 9 fields) or a passwd-style AuthUserFile as ProFTPD reads
 * (`name:hash:uid:gid:gecos:home:shell`, whose home is taken). Homes otherwise are `homeBase/name`,
 * or '' (the server's default storage) without homeBase. Blank lines and `#` comments are ignored.
 * `lines` tells each account's line, for what is reported of it later.
 */
export function parseHashLines(
  text: string,
  homeBase: string | undefined,
): { accounts: Account[]; skipped: SkippedLine[]; lines: ReadonlyMap<string, number> } {
  const accounts = new Map<string, Account>();
  const skipped: SkippedLine[] = [];
  const lines = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    const fields = raw.split(':');
    const [name = '', hash = ''] = fields;
    const skip = (reason: string): void => void skipped.push({ line, name, reason });
    if (![2, 7, 9].includes(fields.length)) {
      return skip('not name:hash (htpasswd), 7 fields (passwd-style) or 9 fields (shadow)');
    }
    if (!USERNAME_PATTERN.test(name)) return skip('user name: letters, digits, . _ - (1 to 64 characters)');
    if (hash === '' || /^[!*]/.test(hash)) return skip('no password, or a locked one (! or *)');
    const problem = passwordHashProblem(hash);
    if (problem) return skip(problem);
    if (accounts.has(name)) return skip('listed twice (the first one is used)');
    const home = fields.length === 7 ? (fields[5] ?? '') : homeBase ? path.join(homeBase, name) : '';
    if (home !== '' && !path.isAbsolute(home)) return skip(`home "${home}" is not an absolute path`);
    accounts.set(name, { username: name, passwordHash: hash, home });
    lines.set(name, line);
  });
  return { accounts: [...accounts.values()], skipped, lines };
}
