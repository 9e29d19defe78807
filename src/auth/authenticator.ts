import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FerryError } from '../errors.js';
import type { Account, AccountStore } from './account.js';
import { addressMatcher } from './account-fields.js';
import { DUMMY_HASH, verifyPassword } from './password.js';
import { certificateMismatch, certLoginOf, passwordless } from './cert-login.js';
import type {
  AccountListener,
  AuthOutcome,
  Authenticator,
  CertificateCredentials,
  Credentials,
  Principal,
} from './types.js';

/** Same text for unknown user and wrong password, so nothing downstream can leak which it was. */
export const REJECTED = 'invalid username or password';

export interface LoginCacheOptions {
  /**
   * How long a successful login is remembered, so the same user and password log in again without
   * the deliberately slow scrypt (0 = never). Only an HMAC of the password (and of the stored hash,
   * so a password change forgets it) under a key that lives in this object is kept; a wrong
   * password always pays the full scrypt cost. Default 10 minutes.
   */
  loginCacheMs?: number;
  /** At most this many remembered logins; the oldest is forgotten first. Default 10,000. */
  loginCacheSize?: number;
  /**
   * While the account store cannot be reached (a database that went away), a user whose password
   * was verified here at most this long ago may still log in with that same password, as their
   * account was then (0 = never: such logins are refused with 421). Default 0.
   */
  offlineLoginMs?: number;
  /** The password check (scrypt, `verifyPassword`); given only to observe it (tests). */
  verify?: (plain: string, encoded: string) => Promise<boolean>;
}

/** A verified login: the HMAC of name, hash and password, and the account as it was then. */
interface Remembered {
  digest: Buffer;
  /** Until when the login skips scrypt (loginCacheMs). */
  expires: number;
  verifiedAt: number;
  account: Account;
}

/** Why an account may not be used at all now (disabled, expired), or undefined. */
export function unusableBecause(a: Account, now = Date.now()): string | undefined {
  if (a.disabled) return 'account disabled';
  if (a.expires !== undefined && Date.parse(a.expires) <= now) return `account expired (${a.expires})`;
  return undefined;
}

/** Why an account whose password was right may not log in now, or undefined when it may. */
export function refusedBecause(a: Account, remoteAddress: string, now = Date.now()): string | undefined {
  const unusable = unusableBecause(a, now);
  if (unusable) return unusable;
  if (a.allowFrom && a.allowFrom.length > 0 && !addressMatcher(a.allowFrom)(remoteAddress)) {
    return `address ${remoteAddress} not in allowFrom`;
  }
  return undefined;
}

export function principalOf(a: Account): Principal {
  const p: Principal = { username: a.username, home: a.home, readOnly: a.readOnly ?? false };
  if (a.permissions) p.permissions = a.permissions;
  if (a.folders) p.folders = a.folders;
  if (a.maxSessions) p.maxSessions = a.maxSessions;
  if (a.quotaSize) p.quotaSize = a.quotaSize;
  if (a.quotaFiles) p.quotaFiles = a.quotaFiles;
  if (a.uploadRate) p.uploadRate = a.uploadRate;
  if (a.downloadRate) p.downloadRate = a.downloadRate;
  return p;
}

/**
 * Passwords checked against accounts from one or more stores (the first store that knows a name
 * wins: the config's users before the users file). A verified login is remembered for a while so
 * that clients opening many sessions do not pay scrypt each time.
 */
export class AccountAuthenticator implements Authenticator {
  readonly #stores: readonly AccountStore[];
  readonly #cacheKey = randomBytes(32);
  readonly #cache = new Map<string, Remembered>();
  readonly #cacheMs: number;
  readonly #offlineMs: number;
  readonly #cacheSize: number;
  readonly #verify: (plain: string, encoded: string) => Promise<boolean>;

  constructor(stores: readonly AccountStore[], options: LoginCacheOptions = {}) {
    this.#stores = stores;
    this.#cacheMs = options.loginCacheMs ?? 600_000;
    this.#offlineMs = options.offlineLoginMs ?? 0;
    this.#verify = options.verify ?? verifyPassword;
    this.#cacheSize = options.loginCacheSize ?? 10_000;
  }

  /** The account from the first store that has the name. */
  async lookup(username: string): Promise<Account | undefined> {
    for (const store of this.#stores) {
      const a = await store.lookup(username);
      if (a) return a;
    }
    return undefined;
  }

  async authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome> {
    signal.throwIfAborted();
    let account: Account | undefined;
    try {
      account = await this.lookup(c.username);
    } catch (err) {
      if (!(err instanceof FerryError && err.code === 'ERR_TRANSIENT')) throw err;
      return this.#offline(c, err.message);
    }
    signal.throwIfAborted();
    const password = c.password.reveal();
    const hash = account?.passwordHash ?? DUMMY_HASH;
    const digest = createHmac('sha256', this.#cacheKey)
      .update(`${c.username}\0${hash}\0${password}`)
      .digest();
    // Unknown users cost the same scrypt work, so timing does not reveal which names exist.
    const matched =
      (account !== undefined && this.#remembered(c.username, digest)) || (await this.#verify(password, hash));
    signal.throwIfAborted();
    if (!account) return { ok: false, reason: REJECTED, unknownUser: true };
    const mode = certLoginOf(account);
    const mismatch = mode && certificateMismatch(account, c.clientCertificate);
    if (mode === 'cert-only') {
      // The password plays no part (it was hashed all the same: the reply takes as long).
      if (mismatch) return { ok: false, reason: `certificate login only: ${mismatch}` };
    } else {
      if (!matched) return { ok: false, reason: REJECTED };
      this.#remember(c.username, digest, account);
      if (mode === 'cert-and-password' && mismatch) {
        return { ok: false, reason: `password right, but a certificate is required: ${mismatch}` };
      }
    }
    const refused = refusedBecause(account, c.remoteAddress);
    if (refused) return { ok: false, reason: refused };
    return { ok: true, principal: principalOf(account) };
  }

  /** A login by certificate alone: no hashing, only for accounts whose certificate replaces the password. */
  async authenticateByCertificate(c: CertificateCredentials, signal: AbortSignal): Promise<AuthOutcome> {
    signal.throwIfAborted();
    const account = await this.lookup(c.username);
    signal.throwIfAborted();
    if (!account) return { ok: false, reason: REJECTED, unknownUser: true };
    if (!passwordless(account)) return { ok: false, reason: 'certificate does not replace the password' };
    const why = certificateMismatch(account, c.clientCertificate) ?? refusedBecause(account, c.remoteAddress);
    if (why) return { ok: false, reason: why };
    return { ok: true, principal: principalOf(account) };
  }

  watch(listener: AccountListener): () => void {
    const onChange = (names: readonly string[]): void => {
      for (const name of names) {
        this.#cache.delete(name);
        void this.lookup(name).then(
          // An expiry is checked at login only: a session running when it passes is not cut off.
          (a) => listener(name, a && !a.disabled ? principalOf(a) : undefined),
          () => {},
        );
      }
    };
    const offs = this.#stores.map((s) => s.onChange(onChange));
    return () => offs.forEach((off) => off());
  }

  /** The store is unreachable: only a login verified here recently, with the same password. */
  #offline(c: Credentials, why: string): AuthOutcome {
    const unavailable = {
      ok: false,
      reason: `account store unavailable (${why})`,
      unavailable: true,
    } as const;
    const hit = this.#cache.get(c.username);
    if (!hit || this.#offlineMs <= 0 || hit.verifiedAt + this.#offlineMs <= Date.now()) return unavailable;
    const digest = createHmac('sha256', this.#cacheKey)
      .update(`${c.username}\0${hit.account.passwordHash}\0${c.password.reveal()}`)
      .digest();
    if (!timingSafeEqual(hit.digest, digest)) return unavailable;
    // The certificate rules hold offline too (a certificate-only login is never remembered).
    const mode = certLoginOf(hit.account);
    const mismatch = mode && certificateMismatch(hit.account, c.clientCertificate);
    if (mode && mismatch) return { ok: false, reason: `a certificate is required: ${mismatch}` };
    const refused = refusedBecause(hit.account, c.remoteAddress);
    if (refused) return { ok: false, reason: refused };
    return { ok: true, principal: principalOf(hit.account) };
  }

  #remembered(username: string, digest: Buffer): boolean {
    const hit = this.#cache.get(username);
    if (!hit) return false;
    // An expired entry stays (bounded by loginCacheSize): it may still serve an offline login.
    if (hit.expires <= Date.now()) return false;
    return timingSafeEqual(hit.digest, digest);
  }

  #remember(username: string, digest: Buffer, account: Account): void {
    if (this.#cacheMs <= 0 && this.#offlineMs <= 0) return;
    this.#cache.delete(username);
    const now = Date.now();
    this.#cache.set(username, { digest, expires: now + this.#cacheMs, verifiedAt: now, account });
    if (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }
}
