// The quick start's `ferry` login (no account configured: a random password printed at start). It
// stands in for the accounts until there are some: the first one added (`ferry users add`, a hand
// edit of users.yaml) ends it at once, for new logins and the sessions running (421), and for good.
import type { Account, AccountStore } from './account.js';
import { silentLogger, type Logger } from '../logger.js';

/** The store whose accounts end the generated login: the users file. */
export interface AccountsToWatch {
  all(): Promise<readonly Account[]>;
  onChange(listener: (usernames: readonly string[]) => void): () => void;
}

export class GeneratedLogin implements AccountStore {
  #active = true;
  readonly #ended = new Set<(usernames: readonly string[]) => void>();
  readonly #logger: Logger;
  #others: AccountsToWatch | undefined;

  /** `quiet`: its end is logged at debug (a cluster worker's: the primary says it). */
  constructor(
    readonly entry: Account,
    logger: Logger = silentLogger,
    readonly quiet = false,
  ) {
    this.#logger = logger;
  }

  /** Whether the login still works (no account has appeared since the start). */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Ends the login as soon as `others` holds an account (at each of its changes, and at each
   * lookup of the login). Returns the unsubscribe (a reload's new store replaces it).
   */
  follow(others: AccountsToWatch): () => void {
    this.#others = others;
    return others.onChange(() => void this.#check());
  }

  /** The login, while no account exists: checked at each lookup too, not only at the store's events. */
  async lookup(username: string): Promise<Account | undefined> {
    if (!this.#active || username !== this.entry.username) return undefined;
    await this.#check();
    return this.#active ? this.entry : undefined;
  }

  /** The login never changes; its end is told through onRevoke. */
  onChange(): () => void {
    return () => {};
  }

  /** Calls `listener` with the login's name when it ends: its sessions are closed (421), whatever follows. */
  onRevoke(listener: (usernames: readonly string[]) => void): () => void {
    this.#ended.add(listener);
    return () => this.#ended.delete(listener);
  }

  /** Ends the login (accounts are configured now); said once. */
  end(why = 'accounts are configured now'): void {
    if (!this.#active) return;
    this.#active = false;
    (this.quiet ? this.#logger.debug : this.#logger.warn).call(
      this.#logger,
      { user: this.entry.username, reason: why },
      'the generated login ends: its sessions are closed and it is refused from now on',
    );
    for (const l of this.#ended) l([this.entry.username]);
  }

  async #check(): Promise<void> {
    if (!this.#active || !this.#others) return;
    // A store that cannot be read now keeps the login until it can (the users file is in memory).
    const all = await this.#others.all().catch(() => undefined);
    if (all && all.length > 0) this.end();
  }
}
