// Accounts the users file (or the database) changed while serving get the check a reload gives
// them (their homes' storage). Run from a change event nobody awaits: nothing it does may reject,
// a database that stops answering mid-way included (an unhandled rejection ends the process).
import type { Account } from '../auth/account.js';
import type { Logger } from '../logger.js';

export interface AccountRecheck {
  /** The account now (the store: a database may be away). */
  lookup(name: string): Promise<Account | undefined>;
  /** Checks the changed accounts (their homes); logs what it refuses itself. */
  check(accounts: Account[]): Promise<void>;
  /** The setup was closed meanwhile: nothing more to check. */
  closed(): boolean;
  logger?: Logger | undefined;
}

/** Checks the accounts named; a failure of any step is a warning, never a rejection. */
export async function recheckAccounts(names: readonly string[], r: AccountRecheck): Promise<void> {
  try {
    const changed = (await Promise.all(names.map((n) => r.lookup(n)))).filter((a) => a !== undefined);
    if (r.closed() || changed.length === 0) return;
    await r.check(changed);
  } catch (err) {
    r.logger?.warn({ err: (err as Error).message }, 'accounts changed: their homes could not be checked');
  }
}
