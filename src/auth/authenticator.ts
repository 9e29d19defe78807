import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { FerryError } from '../errors.js';
import type { Account, AccountStore } from './account.js';
import { addressMatcher } from './account-fields.js';
import {
  DEFAULT_SCRYPT_COST,
  dummyHash,
  hashPassword,
  isLegacyHash,
  verifyPassword,
  type ScryptCost,
} from './password.js';
import { silentLogger, type Logger } from '../logger.js';
import { certificateMismatch, certLoginOf, passwordless } from './cert-login.js';
import { withDefaults, type UserDefaults } from './user-defaults.js';
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
/** A migrated hash's upgrade that failed (a read-only users file) is tried again after this long. */
export const UPGRADE_RETRY_MS = 10 * 60_000;

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
  /**
   * The scrypt cost of the hashes made here (a migrated hash's upgrade) and of the check an unknown
   * user pays (as long as a user's). Default DEFAULT_SCRYPT_COST; lower only in test suites.
   */
  hashCost?: ScryptCost;
  /** The password check (scrypt, `verifyPassword`); given only to observe it (tests). */
  verify?: (plain: string, encoded: string, signal?: AbortSignal) => Promise<boolean>;
  /** Where a migrated hash's upgrade (or the advice to replace one) is told. */
  logger?: Logger;
  /** Limits for every account that leaves them unset (the config's userDefaults). */
  defaults?: UserDefaults;
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
  if (a.denyFiles?.length) p.denyFiles = a.denyFiles;
  if (a.hideDotFiles !== undefined) p.hideDotFiles = a.hideDotFiles;
  if (a.maxSessions) p.maxSessions = a.maxSessions;
  if (a.quotaSize) p.quotaSize = a.quotaSize;
  if (a.quotaFiles) p.quotaFiles = a.quotaFiles;
  if (a.uploadRate) p.uploadRate = a.uploadRate;
  if (a.downloadRate) p.downloadRate = a.downloadRate;
  if (a.anonymous) p.anonymous = true;
  if (a.hash === false) p.hash = false;
  return p;
}

/**
 * Anonymous FTP: any password (an e-mail address by custom; never read, never kept). A refusal
 * (allowFrom, expiry) is marked so that the defender does not score it as a failed login.
 */
function anonymousLogin(account: Account, remoteAddress: string): AuthOutcome {
  const refused = refusedBecause(account, remoteAddress);
  if (refused) return { ok: false, reason: refused, anonymous: true };
  return { ok: true, principal: principalOf(account) };
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
  readonly #verify: (plain: string, encoded: string, signal?: AbortSignal) => Promise<boolean>;
  readonly #hashCost: ScryptCost;
  /** What an unknown user's password is checked against (never matches). */
  readonly #dummy: string;
  readonly #logger: Logger;
  readonly #defaults: UserDefaults | undefined;
  /** The watchers' handlers of account changes (announce reaches them too). */
  readonly #watchers = new Set<(names: readonly string[]) => void>();
  /** Users whose migrated hash cannot be rewritten here, already told about (once each). */
  readonly #advised = new Set<string>();
  /** Hash upgrades running, by user: one at a time (parallel logins each hashed and wrote one). */
  readonly #upgrading = new Map<string, Promise<void>>();
  /** When an upgrade last failed, by user. */
  readonly #upgradeFailed = new Map<string, number>();
  /**
   * The hash an upgrade wrote, by user, with the account's principal then: the store's change that
   * brings it is no change of the account (same password, same rights), not told to its sessions.
   */
  readonly #rehashed = new Map<string, { hash: string; principal: Principal }>();

  constructor(stores: readonly AccountStore[], options: LoginCacheOptions = {}) {
    this.#stores = stores;
    this.#logger = options.logger ?? silentLogger;
    this.#cacheMs = options.loginCacheMs ?? 600_000;
    this.#offlineMs = options.offlineLoginMs ?? 0;
    this.#verify = options.verify ?? verifyPassword;
    this.#hashCost = options.hashCost ?? DEFAULT_SCRYPT_COST;
    this.#dummy = dummyHash(this.#hashCost);
    this.#cacheSize = options.loginCacheSize ?? 10_000;
    this.#defaults = options.defaults;
  }

  /** The account from the first store that has the name. */
  async lookup(username: string): Promise<Account | undefined> {
    return (await this.#find(username))?.account;
  }

  async #find(username: string): Promise<{ account: Account; store: AccountStore } | undefined> {
    for (const store of this.#stores) {
      const account = await store.lookup(username);
      if (account) return { account: withDefaults(account, this.#defaults), store };
    }
    return undefined;
  }

  async authenticate(c: Credentials, signal: AbortSignal): Promise<AuthOutcome> {
    signal.throwIfAborted();
    let found: { account: Account; store: AccountStore } | undefined;
    try {
      found = await this.#find(c.username);
    } catch (err) {
      if (!(err instanceof FerryError && err.code === 'ERR_TRANSIENT')) throw err;
      return this.#offline(c, err.message);
    }
    signal.throwIfAborted();
    const account = found?.account;
    if (account?.anonymous) return anonymousLogin(account, c.remoteAddress);
    const password = c.password.reveal();
    const hash = account?.passwordHash ?? this.#dummy;
    const digest = createHmac('sha256', this.#cacheKey)
      .update(`${c.username}\0${hash}\0${password}`)
      .digest();
    // Unknown users cost the same scrypt work, so timing does not reveal which names exist.
    const remembered = account !== undefined && this.#remembered(c.username, digest);
    const matched = remembered || (await this.#check(password, hash, signal));
    signal.throwIfAborted();
    if (matched && !remembered && found && isLegacyHash(hash))
      this.#upgrade(found.store, c.username, hash, password);
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

  /**
   * A migrated hash (MD5-crypt: 29 ms where scrypt takes 111) is checked beside the dummy scrypt,
   * at once: its answer takes no less than an unknown user's, so timing tells no names.
   */
  async #check(password: string, hash: string, signal: AbortSignal): Promise<boolean> {
    if (!isLegacyHash(hash)) return this.#verify(password, hash, signal);
    const [matched] = await Promise.all([
      this.#verify(password, hash, signal),
      this.#verify(password, this.#dummy, signal),
    ]);
    return matched;
  }

  /** A login by certificate alone: no hashing, only for accounts whose certificate replaces the password. */
  async authenticateByCertificate(c: CertificateCredentials, signal: AbortSignal): Promise<AuthOutcome> {
    signal.throwIfAborted();
    const account = await this.lookup(c.username);
    signal.throwIfAborted();
    if (!account) return { ok: false, reason: REJECTED, unknownUser: true };
    if (!passwordless(account)) return { ok: false, reason: 'certificate does not replace the password' };
    const mismatch = certificateMismatch(account, c.clientCertificate);
    if (mismatch) return { ok: false, reason: mismatch, certificateRefused: true };
    const refused = refusedBecause(account, c.remoteAddress);
    if (refused) return { ok: false, reason: refused };
    return { ok: true, principal: principalOf(account) };
  }

  watch(listener: AccountListener): () => void {
    const onChange = (names: readonly string[]): void => {
      for (const name of names) {
        this.#cache.delete(name);
        void this.lookup(name).then(
          // An expiry is checked at login only: a session running when it passes is not cut off.
          (a) => {
            const p = a && !a.disabled ? principalOf(a) : undefined;
            if (!this.#onlyRehashed(name, a, p))
              listener(name, p, p ? undefined : a ? 'disabled' : 'removed');
          },
          () => {},
        );
      }
    };
    const onRevoke = (names: readonly string[]): void => {
      for (const name of names) {
        this.#cache.delete(name);
        listener(name, undefined, 'removed');
      }
    };
    const offs = this.#stores.flatMap((s) => [s.onChange(onChange), s.onRevoke?.(onRevoke) ?? (() => {})]);
    this.#watchers.add(onChange);
    return () => {
      this.#watchers.delete(onChange);
      offs.forEach((off) => off());
    };
  }

  /**
   * The sessions of these users follow their accounts as looked up now, as when a store changes
   * them (a reload that changed the defaults every account may take).
   */
  announce(usernames: readonly string[]): void {
    for (const w of this.#watchers) w(usernames);
  }

  /**
   * The account as looked up after a change differs from before only by the hash an upgrade here
   * wrote. Any other change ends that: a later one is compared with nothing.
   */
  #onlyRehashed(name: string, a: Account | undefined, p: Principal | undefined): boolean {
    const r = this.#rehashed.get(name);
    if (!r) return false;
    if (a?.passwordHash === r.hash && p && isDeepStrictEqual(p, r.principal)) return true;
    this.#rehashed.delete(name);
    return false;
  }

  /**
   * A migrated (crypt) hash just verified: replaced by a scrypt one of the same password, in the
   * background (the login does not wait). Where the store cannot be written, says so once.
   */
  #upgrade(store: AccountStore, username: string, from: string, password: string): void {
    if (!store.replaceHash) {
      if (this.#advised.has(username)) return;
      this.#advised.add(username);
      this.#logger.info(
        { user: username },
        "user logged in with a migrated password hash in the configuration: replace it with one from 'ferry hash-password'",
      );
      return;
    }
    if (this.#upgrading.has(username)) return;
    // One that could not be written waits before the next try: not a rewrite at every login.
    const failed = this.#upgradeFailed.get(username);
    if (failed !== undefined && Date.now() - failed < UPGRADE_RETRY_MS) return;
    const replace = store.replaceHash.bind(store);
    // Only while the hash is still the one verified: a login checked against it before another
    // upgrade (or an admin) replaced it neither hashes again nor writes.
    const upgrade = store
      .lookup(username)
      .then(async (now) => {
        if (now?.passwordHash !== from) return false;
        const to = await hashPassword(password, this.#hashCost);
        // Before the write: the store may tell of its change before replaceHash returns.
        this.#rehashed.set(username, { hash: to, principal: principalOf(withDefaults(now, this.#defaults)) });
        return replace(username, from, to);
      })
      .then(
        (done) => {
          this.#upgradeFailed.delete(username);
          if (!done) this.#rehashed.delete(username);
          if (done) this.#logger.info({ user: username }, 'migrated password hash replaced by a scrypt one');
        },
        (err: unknown) => {
          this.#upgradeFailed.set(username, Date.now());
          this.#rehashed.delete(username);
          this.#logger.warn(
            { user: username, err: (err as Error).message, retryInMs: UPGRADE_RETRY_MS },
            'migrated password hash not replaced',
          );
        },
      )
      .finally(() => this.#upgrading.delete(username));
    this.#upgrading.set(username, upgrade);
  }

  /** Resolves once the hash upgrades running now are done (tests). */
  async upgrades(): Promise<void> {
    await Promise.all(this.#upgrading.values());
  }

  /**
   * The store is unreachable: only a login verified here recently, with the same password. Another
   * password for such a user is 'unavailable' as for anyone (the same 421: which names are cached is
   * not told), but a guess the defender scores: else guesses would be free until the right one got in.
   */
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
    if (!timingSafeEqual(hit.digest, digest)) {
      return {
        ...unavailable,
        guess: true,
        reason: `wrong password (checked offline: account store unavailable, ${why})`,
      };
    }
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
