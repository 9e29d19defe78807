// Accounts in PostgreSQL: looked up by name at each login (the primary key: no table scan), edited
// by `ferry users` in transactions, and followed by every node through the change log.
import type * as pg from 'pg';
import {
  onlyRehashed,
  replaceHashIn,
  type Account,
  type AccountDirectory,
  type AccountStore,
} from '../auth/account.js';
import { accountSchema, firstIssue, fromAccount, toAccount } from '../auth/account-schema.js';
import { FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { recordChange, redact, type Database } from './database.js';

const KIND = 'account';
/** Names whose changes are re-announced when the database comes back (those in use here). */
const MAX_TRACKED = 10_000;

function accountOf(data: unknown, username: string): Account {
  const parsed = accountSchema.safeParse(data);
  if (!parsed.success) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `account "${username}" in the database: ${firstIssue(parsed.error)}`,
    );
  }
  return toAccount(parsed.data, '/');
}

export class PgAccounts implements AccountStore, AccountDirectory {
  readonly where: string;
  readonly #listeners = new Set<(names: readonly string[]) => void>();
  readonly #used = new Set<string>();
  readonly #offs: (() => void)[] = [];
  readonly #logger: Logger;

  constructor(
    readonly db: Database,
    url: string,
    logger: Logger = silentLogger,
  ) {
    this.where = `database ${redact(url)}`;
    this.#logger = logger;
  }

  async lookup(username: string): Promise<Account | undefined> {
    this.#used.delete(username);
    this.#used.add(username);
    if (this.#used.size > MAX_TRACKED) this.#used.delete(this.#used.values().next().value as string);
    return this.get(username);
  }

  onChange(listener: (names: readonly string[]) => void): () => void {
    if (this.#offs.length === 0) {
      this.#offs.push(this.db.onChange(KIND, (name) => this.#emit([name])));
      // Changes made while this node could not read the log: announce every name in use here.
      this.#offs.push(this.db.onRecover(() => this.#emit([...this.#used])));
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(names: readonly string[]): void {
    if (names.length === 0) return;
    this.#logger.debug({ names: names.length }, 'accounts changed in the database');
    for (const l of this.#listeners) l(names);
  }

  async list(): Promise<Account[]> {
    const { rows } = await this.db.query<{ username: string; data: unknown }>(
      'SELECT username, data FROM ferry_accounts ORDER BY username',
    );
    return rows.map((r) => accountOf(r.data, r.username));
  }

  /** Every account (for start-up summaries; logins use lookup). */
  all(): Promise<Account[]> {
    return this.list();
  }

  async get(username: string): Promise<Account | undefined> {
    const { rows } = await this.db.query<{ data: unknown }>(
      'SELECT data FROM ferry_accounts WHERE username = $1',
      [username],
    );
    return rows[0] ? accountOf(rows[0].data, username) : undefined;
  }

  add(account: Account): Promise<boolean> {
    return this.db.transaction(async (c) => {
      const r = await c.query(
        'INSERT INTO ferry_accounts (username, data) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING',
        [account.username, fromAccount(account)],
      );
      if (r.rowCount !== 1) return false;
      await recordChange(c, KIND, account.username);
      return true;
    });
  }

  addAll(accounts: readonly Account[]): Promise<string[]> {
    return this.db.transaction(async (c) => {
      const taken: string[] = [];
      for (const account of accounts) {
        const r = await c.query(
          'INSERT INTO ferry_accounts (username, data) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING',
          [account.username, fromAccount(account)],
        );
        if (r.rowCount === 1) await recordChange(c, KIND, account.username);
        else taken.push(account.username);
      }
      return taken;
    });
  }

  put(account: Account): Promise<void> {
    return this.db.transaction(async (c) => {
      await c.query(
        `INSERT INTO ferry_accounts (username, data) VALUES ($1, $2)
         ON CONFLICT (username) DO UPDATE SET data = EXCLUDED.data, changed_at = clock_timestamp()`,
        [account.username, fromAccount(account)],
      );
      await recordChange(c, KIND, account.username);
    });
  }

  update<T>(username: string, change: (a: Account) => T | Promise<T>): Promise<{ result: T } | undefined> {
    return this.db.transaction(async (c: pg.PoolClient) => {
      const { rows } = await c.query<{ data: unknown }>(
        'SELECT data FROM ferry_accounts WHERE username = $1 FOR UPDATE',
        [username],
      );
      if (!rows[0]) return undefined;
      const a = accountOf(rows[0].data, username);
      const before = accountOf(rows[0].data, username);
      const result = await change(a);
      // Unchanged (a compare-and-set that found another hash): no write, no change announced.
      if (JSON.stringify(a) === JSON.stringify(before)) return { result };
      await c.query(
        'UPDATE ferry_accounts SET data = $2, changed_at = clock_timestamp() WHERE username = $1',
        [username, fromAccount(a)],
      );
      // A login's hash upgrade is no change of the account: no node's sessions are told of it.
      if (!onlyRehashed(before, a)) await recordChange(c, KIND, username);
      return { result };
    });
  }

  /** The transaction `ferry users passwd` uses. */
  replaceHash(username: string, from: string, to: string): Promise<boolean> {
    return replaceHashIn(this, username, from, to);
  }

  remove(username: string): Promise<boolean> {
    return this.db.transaction(async (c) => {
      const r = await c.query('DELETE FROM ferry_accounts WHERE username = $1', [username]);
      if (r.rowCount !== 1) return false;
      await c.query('DELETE FROM ferry_usage WHERE username = $1', [username]);
      await recordChange(c, KIND, username);
      return true;
    });
  }

  /** Stops following changes; the database is its owner's to close. */
  async close(): Promise<void> {
    for (const off of this.#offs.splice(0)) off();
    this.#listeners.clear();
  }
}
