import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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

export interface UserTableOptions {
  /**
   * How long a successful login is remembered, so the same user and password log in again without
   * the deliberately slow scrypt (0 = never). Only an HMAC of the password under a key that lives
   * in this object is kept; a wrong password always pays the full scrypt cost. Default 10 minutes.
   */
  loginCacheMs?: number;
  /** At most this many remembered logins; the oldest is forgotten first. Default 10,000. */
  loginCacheSize?: number;
}

/** Username/password users held in memory; entries are validated once, at construction. */
export class UserTable implements Authenticator {
  readonly #users = new Map<string, Readonly<UserEntry>>();
  readonly #cacheKey = randomBytes(32);
  readonly #cache = new Map<string, { digest: Buffer; expires: number }>();
  readonly #cacheMs: number;
  readonly #cacheSize: number;

  constructor(entries: readonly UserEntry[], options: UserTableOptions = {}) {
    this.#cacheMs = options.loginCacheMs ?? 600_000;
    this.#cacheSize = options.loginCacheSize ?? 10_000;
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
  static async fromPlain(entries: readonly PlainUserEntry[], options?: UserTableOptions): Promise<UserTable> {
    const hashed = await Promise.all(
      entries.map(async (e, i) => {
        if (typeof e.password !== 'string' || e.password === '') {
          throw invalid(`users[${i}].password must not be empty.`);
        }
        const { password, ...rest } = e;
        return { ...rest, passwordHash: await hashPassword(password) };
      }),
    );
    return new UserTable(hashed, options);
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
    const password = c.password.reveal();
    const digest = createHmac('sha256', this.#cacheKey).update(`${c.username}\0${password}`).digest();
    // Unknown users cost the same scrypt work, so timing does not reveal which names exist.
    const matched =
      (user !== undefined && this.#remembered(c.username, digest)) ||
      (await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH));
    signal.throwIfAborted();
    if (!user) return { ok: false, reason: REJECTED, unknownUser: true };
    if (!matched) return { ok: false, reason: REJECTED };
    this.#remember(c.username, digest);
    const principal: Principal = {
      username: user.username,
      home: user.home,
      readOnly: user.readOnly ?? false,
    };
    return { ok: true, principal };
  }

  #remembered(username: string, digest: Buffer): boolean {
    const hit = this.#cache.get(username);
    if (!hit) return false;
    if (hit.expires <= Date.now()) {
      this.#cache.delete(username);
      return false;
    }
    return timingSafeEqual(hit.digest, digest);
  }

  #remember(username: string, digest: Buffer): void {
    if (this.#cacheMs <= 0) return;
    this.#cache.delete(username);
    this.#cache.set(username, { digest, expires: Date.now() + this.#cacheMs });
    if (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }
}
