// The state several Ferry nodes share through PostgreSQL, opened for `ferry serve` (and, without
// the session leases, for `ferry users`, `ferry bans` and `ferry db`).
import { PgAccounts } from '../db/accounts.js';
import { PgBans } from '../db/bans.js';
import { Database } from '../db/database.js';
import { PgSessions } from '../db/sessions.js';
import { PgUsage } from '../db/usage.js';
import type { Logger } from '../logger.js';

export interface SharedState {
  db: Database;
  accounts: PgAccounts;
  usage: PgUsage;
  bans: PgBans;
  close(): Promise<void>;
}

export interface ServingState extends SharedState {
  sessions: PgSessions;
}

/** Connects and migrates (under the advisory lock): the database must be there at start. */
export async function openSharedState(url: string, logger?: Logger): Promise<SharedState> {
  const db = await Database.open(url, logger ? { logger } : {});
  const accounts = new PgAccounts(db, url, logger);
  const usage = new PgUsage(db, logger);
  const bans = new PgBans(db, logger);
  return {
    db,
    accounts,
    usage,
    bans,
    close: async () => {
      await accounts.close();
      await bans.close();
      await usage.close();
      await db.close();
    },
  };
}

/** The shared state plus this node's session leases (a serving node). */
export async function openServingState(url: string, logger: Logger): Promise<ServingState> {
  const shared = await openSharedState(url, logger);
  const sessions = new PgSessions(shared.db, { logger });
  return {
    ...shared,
    sessions,
    close: async () => {
      await sessions.close();
      await shared.close();
    },
  };
}
