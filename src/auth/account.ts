import { ANONYMOUS_USER, isAnonymousName } from './anonymous.js';
import type { CertLogin } from './cert-login.js';
import { isLegacyHash } from './password.js';
import type { PermissionRules } from './permissions.js';

/**
 * One account as an AccountStore keeps it. Only `username`, `passwordHash` and `home` are required;
 * everything else is optional so that a store can grow fields without breaking old entries.
 */
export interface Account {
  username: string;
  /**
   * From hashPassword (`scrypt$…`), or a crypt hash brought from another server (crypt-hashes.ts),
   * replaced by a scrypt one at the user's next login where the store can be written.
   */
  passwordHash: string;
  /**
   * When an administrator last changed the password (ISO 8601; `ferry users passwd`, `set --password-hash`).
   * A login's upgrade of a crypt hash keeps it: a hash that changed with it is a new password,
   * one that changed without it (crypt to scrypt) the same password rehashed, no change of the account.
   */
  passwordSet?: string;
  /**
   * What becomes the user's `/`: an absolute host directory, `s3://bucket/prefix/`, or '' for the
   * server's default storage (`<prefix><username>/` in its S3 bucket).
   */
  home: string;
  /** Shorthand for `/` = list,download (a rule for `/` wins over it). */
  readOnly?: boolean;
  permissions?: PermissionRules;
  /** Shell patterns of names this user may not see or use (besides the server's denyFiles). */
  denyFiles?: readonly string[];
  /** LIST/NLST/STAT without -a leave out dot-files (absent: the server's hideDotFiles). */
  hideDotFiles?: boolean;
  /** Refused at login (the live sessions end when it is set). */
  disabled?: boolean;
  /** ISO 8601 instant from which logins are refused. */
  expires?: string;
  /** Logins only from these networks (CIDR); empty or absent: from anywhere. */
  allowFrom?: readonly string[];
  /** Concurrent sessions; 0 or absent: no limit. */
  maxSessions?: number;
  /** SHA-256 fingerprints (AA:BB:…) of client certificates pinned for this user. */
  clientCerts?: readonly string[];
  /** How a client certificate logs this user in (auth/cert-login.ts); absent: see certLoginOf. */
  certLogin?: CertLogin;
  /** Bytes and regular files over the home (see storage/limited.ts); 0 or absent: no limit. */
  quotaSize?: number;
  quotaFiles?: number;
  /** Bytes per second; 0 or absent: unlimited. */
  uploadRate?: number;
  downloadRate?: number;
  /** false: no HASH (it reads a whole file for a few bytes from the client). */
  hash?: boolean;
  /** Virtual folders: virtual path (never `/`) → host directory mounted there (storage/mounts.ts). */
  folders?: Readonly<Record<string, string>>;
  /**
   * The public account of anonymous FTP (auth/anonymous.ts): logins named anonymous or ftp, any
   * password; `passwordHash` is ''. Only the configuration makes one, never a store.
   */
  anonymous?: true;
}

/**
 * Where accounts live: the users file today, a database later. Asynchronous, looked up by name
 * (a store never has to scan every account for a login), and able to say what changed so that
 * running sessions follow (a database store would use LISTEN/NOTIFY for that).
 */
export interface AccountStore {
  /** The account named exactly `username`, or undefined. */
  lookup(username: string): Promise<Account | undefined>;
  /** Calls `listener` with the names of accounts added, changed or removed; returns unsubscribe. */
  onChange(listener: (usernames: readonly string[]) => void): () => void;
  /**
   * Calls `listener` with the names of logins that ended for good (the generated login once an
   * account exists): their sessions close, whatever another store holds under that name now.
   */
  onRevoke?(listener: (usernames: readonly string[]) => void): () => void;
  /**
   * Replaces the account's password hash `from` by `to` (a login upgrading a migrated hash); false
   * when the account is gone or its hash changed meanwhile. Absent: hashes here are never rewritten
   * (the configuration's users).
   */
  replaceHash?(username: string, from: string, to: string): Promise<boolean>;
}

/** `update` for replaceHash: the hash changes only if it is still `from`. */
export async function replaceHashIn(
  directory: Pick<AccountDirectory, 'update'>,
  username: string,
  from: string,
  to: string,
): Promise<boolean> {
  const done = await directory.update(
    username,
    (a) => a.passwordHash === from && ((a.passwordHash = to), true),
  );
  return done?.result ?? false;
}

/**
 * `after` is `before` with its crypt hash upgraded by a login (replaceHash), nothing else changed:
 * the same password, rights and limits, so the user's sessions are not told (on other workers and
 * nodes neither). An administrator's new password changes `passwordSet` too.
 */
export function onlyRehashed(before: Readonly<Account>, after: Readonly<Account>): boolean {
  if (!isLegacyHash(before.passwordHash) || isLegacyHash(after.passwordHash)) return false;
  return JSON.stringify({ ...before, passwordHash: '' }) === JSON.stringify({ ...after, passwordHash: '' });
}

/**
 * An administrator's new hash for `a`. `passwordSet` tells it from a login's upgrade only over a
 * crypt hash (onlyRehashed), so it is written only then, or kept current where it is already: an
 * older Ferry (strict schema) refuses an account that has it.
 */
export function setPasswordHash(a: Account, hash: string): void {
  if (isLegacyHash(a.passwordHash) || a.passwordSet !== undefined)
    a.passwordSet = passwordSetNow(a.passwordSet);
  a.passwordHash = hash;
}

/** A `passwordSet` for a password set now: later than `previous`, which a clock set back might not be. */
export function passwordSetNow(previous?: string): string {
  const at = Math.max(Date.now(), previous === undefined ? 0 : Date.parse(previous) + 1);
  return new Date(at).toISOString();
}

/**
 * The names of the accounts added, removed or changed (any field) between two tables; a hash
 * upgrade alone is no change (onlyRehashed).
 */
export function changedUsernames(
  before: ReadonlyMap<string, Readonly<Account>>,
  after: ReadonlyMap<string, Readonly<Account>>,
): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  // The same object is the same account (a reload keeps those of unchanged entries): no compare.
  return [...names].filter((n) => {
    const [b, a] = [before.get(n), after.get(n)];
    if (b === a || JSON.stringify(b) === JSON.stringify(a)) return false;
    return !(b && a && onlyRehashed(b, a));
  });
}

/** At most this many names per list in a log line (a bulk import of thousands is counted, not listed). */
const NAMED_AT_MOST = 20;

/**
 * The accounts a reload `changed` (changedUsernames), sorted into added, removed and modified, for an
 * audit line: who an administrator's edit touched, not only how many.
 */
export function describeChanges(
  before: ReadonlyMap<string, unknown>,
  after: ReadonlyMap<string, unknown>,
  changed: readonly string[],
): { added?: string[]; removed?: string[]; modified?: string[] } {
  const lists = { added: [] as string[], removed: [] as string[], modified: [] as string[] };
  for (const n of changed) {
    const list = !before.has(n) ? lists.added : !after.has(n) ? lists.removed : lists.modified;
    list.push(n);
  }
  const named = (l: string[]): string[] | undefined =>
    l.length === 0
      ? undefined
      : l.length <= NAMED_AT_MOST
        ? l
        : [...l.slice(0, NAMED_AT_MOST), `…and ${l.length - NAMED_AT_MOST} more`];
  return { added: named(lists.added), removed: named(lists.removed), modified: named(lists.modified) };
}

/**
 * Accounts held in memory (the config's `users:` and `--user`): fixed for the table's life. A reload
 * builds a new table and names the accounts that differ from the old one's (announce), so that the
 * running sessions follow as they do the users file's changes.
 */
export class StaticAccounts implements AccountStore {
  readonly #accounts: ReadonlyMap<string, Readonly<Account>>;
  readonly #listeners = new Set<(usernames: readonly string[]) => void>();

  constructor(accounts: readonly Account[]) {
    this.#accounts = new Map(accounts.map((a) => [a.username, Object.freeze({ ...a })]));
  }

  /** Exact names; anonymous and ftp (any case) give the anonymous account while it is on. */
  async lookup(username: string): Promise<Account | undefined> {
    if (isAnonymousName(username)) {
      const anonymous = this.#accounts.get(ANONYMOUS_USER);
      // Disabled is off: such a login is an unknown user's, as when no anonymous account is set.
      if (anonymous?.anonymous) return anonymous.disabled ? undefined : anonymous;
    }
    return this.#accounts.get(username);
  }

  onChange(listener: (usernames: readonly string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the watchers which accounts this table holds differently from `before`'s (a reload). */
  announce(before: readonly Account[]): void {
    const changed = changedUsernames(new Map(before.map((a) => [a.username, a])), this.#accounts);
    if (changed.length > 0) for (const l of this.#listeners) l(changed);
  }

  get size(): number {
    return this.#accounts.size;
  }

  has(username: string): boolean {
    return this.#accounts.has(username);
  }
}

/**
 * The accounts as `ferry users` and `ferry db import` edit them: the users file or the database.
 * Each edit is atomic against other editors (the file's lock, a database transaction).
 */
export interface AccountDirectory {
  /** Where the accounts are, for messages (a file path, or the database without its password). */
  readonly where: string;
  list(): Promise<Account[]>;
  get(username: string): Promise<Account | undefined>;
  /** Adds the account; false when the name is taken. */
  add(account: Account): Promise<boolean>;
  /** Adds or replaces the account (an import). */
  put(account: Account): Promise<void>;
  /** Adds the accounts at once (one write, one transaction); returns the names already taken, not added. */
  addAll(accounts: readonly Account[]): Promise<string[]>;
  /**
   * Changes the account in place through `change`; undefined when there is no such account. A
   * change that leaves the account as it was writes nothing (and announces no change).
   */
  update<T>(username: string, change: (a: Account) => T | Promise<T>): Promise<{ result: T } | undefined>;
  /** False when there was no such account. */
  remove(username: string): Promise<boolean>;
  close(): Promise<void>;
}
