import { isAbsolute } from 'node:path';
import { FerryError } from '../errors.js';
import { StaticAccounts, type Account } from './account.js';
import { parseVirtualDir } from './account-fields.js';
import { USERNAME_PATTERN } from './account-schema.js';
import { AccountAuthenticator, type LoginCacheOptions } from './authenticator.js';
import { hashPassword, passwordHashProblem } from './password.js';
import type { AuthOutcome, Authenticator, CertificateCredentials, Credentials } from './types.js';

export { USERNAME_PATTERN };

/** One user as stored in config: the shape the config loader produces (an Account). */
export type UserEntry = Account;

/** A user given with a plain password (e.g. `--user NAME:PASSWORD`); hashed by UserTable.fromPlain. */
export interface PlainUserEntry extends Omit<Account, 'passwordHash'> {
  password: string;
}

export type UserTableOptions = LoginCacheOptions;

/** Already in the form parseVirtualDir gives. */
function isVirtualDir(at: string): boolean {
  try {
    return parseVirtualDir(at) === at;
  } catch {
    return false;
  }
}

function invalid(message: string): FerryError {
  return new FerryError('ERR_INVALID_OPTION', message);
}

/** Username/password users held in memory; entries are validated once, at construction. */
export class UserTable extends StaticAccounts implements Authenticator {
  readonly #auth: AccountAuthenticator;

  constructor(entries: readonly UserEntry[], options: UserTableOptions = {}) {
    const seen = new Set<string>();
    entries.forEach((e, i) => {
      const where = `users[${i}]`;
      if (typeof e.username !== 'string' || !USERNAME_PATTERN.test(e.username)) {
        throw invalid(`${where}.username must match ${USERNAME_PATTERN.source}.`);
      }
      if (seen.has(e.username)) throw invalid(`${where}.username "${e.username}" is listed twice.`);
      seen.add(e.username);
      // The anonymous account has no password (any is taken).
      const problem = e.anonymous
        ? undefined
        : typeof e.passwordHash === 'string'
          ? passwordHashProblem(e.passwordHash)
          : 'not a string';
      if (problem) throw invalid(`${where}.passwordHash (user "${e.username}"): ${problem}.`);
      if (
        typeof e.home !== 'string' ||
        !(e.home === '' || e.home.startsWith('s3://') || isAbsolute(e.home))
      ) {
        throw invalid(`${where}.home must be an absolute directory path, s3://bucket/prefix/, or ''.`);
      }
      for (const [at, dir] of Object.entries(e.folders ?? {})) {
        if (at === '/' || !isVirtualDir(at))
          throw invalid(`${where}.folders: "${at}" must be a virtual path below /.`);
        if (typeof dir !== 'string' || !isAbsolute(dir))
          throw invalid(`${where}.folders.${at} must be an absolute directory path.`);
      }
    });
    super(entries);
    this.#auth = new AccountAuthenticator([this], options);
  }

  /**
   * Hashes each password (for test flags and quick setups), at `options.hashCost` (default: the
   * production cost); validation as in the constructor.
   */
  static async fromPlain(entries: readonly PlainUserEntry[], options?: UserTableOptions): Promise<UserTable> {
    const hashed = await Promise.all(
      entries.map(async (e, i) => {
        if (typeof e.password !== 'string' || e.password === '') {
          throw invalid(`users[${i}].password must not be empty.`);
        }
        const { password, ...rest } = e;
        return { ...rest, passwordHash: await hashPassword(password, options?.hashCost) };
      }),
    );
    return new UserTable(hashed, options);
  }

  authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome> {
    return this.#auth.authenticate(c, signal);
  }

  authenticateByCertificate(c: CertificateCredentials, signal: AbortSignal): Promise<AuthOutcome> {
    return this.#auth.authenticateByCertificate(c, signal);
  }
}
