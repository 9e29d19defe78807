import { isAbsolute } from 'node:path';
import { FerryError } from '../errors.js';
import { DUMMY_HASH, hashPassword, isPasswordHash, verifyPassword } from './password.js';
import type { AuthOutcome, Authenticator, Credentials, Principal } from './types.js';

/** One user as stored in config: the shape the config loader produces. */
export interface UserEntry {
  username: string;
  /** From hashPassword (`scrypt$…`). */
  passwordHash: string;
  /** Absolute host directory that becomes the user's `/`. */
  home: string;
  readOnly?: boolean;
}

/** A user given with a plain password (e.g. `--user NAME:PASSWORD`); hashed by UserTable.fromPlain. */
export interface PlainUserEntry {
  username: string;
  password: string;
  home: string;
  readOnly?: boolean;
}

export const USERNAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Same text for unknown user and wrong password, so nothing downstream can leak which it was. */
const REJECTED = 'invalid username or password';

function invalid(message: string): FerryError {
  return new FerryError('ERR_INVALID_OPTION', message);
}

/** Username/password users held in memory; entries are validated once, at construction. */
export class UserTable implements Authenticator {
  readonly #users = new Map<string, Readonly<UserEntry>>();

  constructor(entries: readonly UserEntry[]) {
    entries.forEach((e, i) => {
      const where = `users[${i}]`;
      if (typeof e.username !== 'string' || !USERNAME_PATTERN.test(e.username)) {
        throw invalid(`${where}.username must match ${USERNAME_PATTERN.source}.`);
      }
      if (this.#users.has(e.username)) throw invalid(`${where}.username "${e.username}" is listed twice.`);
      if (typeof e.passwordHash !== 'string' || !isPasswordHash(e.passwordHash)) {
        throw invalid(`${where}.passwordHash must be a scrypt$N$r$p$salt$hash string from hashPassword().`);
      }
      if (typeof e.home !== 'string' || !isAbsolute(e.home)) {
        throw invalid(`${where}.home must be an absolute directory path.`);
      }
      this.#users.set(e.username, Object.freeze({ ...e, readOnly: e.readOnly ?? false }));
    });
  }

  /** Hashes each password (for test flags and quick setups); validation as in the constructor. */
  static async fromPlain(entries: readonly PlainUserEntry[]): Promise<UserTable> {
    const hashed = await Promise.all(
      entries.map(async (e, i) => {
        if (typeof e.password !== 'string' || e.password === '') {
          throw invalid(`users[${i}].password must not be empty.`);
        }
        const { password, ...rest } = e;
        return { ...rest, passwordHash: await hashPassword(password) };
      }),
    );
    return new UserTable(hashed);
  }

  get size(): number {
    return this.#users.size;
  }

  has(username: string): boolean {
    return this.#users.has(username);
  }

  async authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome> {
    signal.throwIfAborted();
    const user = this.#users.get(c.username);
    // Unknown users cost the same scrypt work, so timing does not reveal which names exist.
    const matched = await verifyPassword(c.password.reveal(), user?.passwordHash ?? DUMMY_HASH);
    signal.throwIfAborted();
    if (!user || !matched) return { ok: false, reason: REJECTED };
    const principal: Principal = {
      username: user.username,
      home: user.home,
      readOnly: user.readOnly ?? false,
    };
    return { ok: true, principal };
  }
}
