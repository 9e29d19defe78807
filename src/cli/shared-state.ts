// The state several Ferry nodes share through PostgreSQL, opened for `ferry serve` (and, without
// the session leases, for `ferry users`, `ferry bans` and `ferry db`).
// The db/ modules are loaded only when a database is configured: the driver costs every process
// (each worker too) ~15 MB of memory.
import type { PgAccounts } from '../db/accounts.js';
import type { PgBans } from '../db/bans.js';
import type { PgCutUploads } from '../db/cut-uploads.js';
import type { Database } from '../db/database.js';
import type { PgSessions } from '../db/sessions.js';
import type { PgUsage } from '../db/usage.js';
import { FerryError } from '../errors.js';
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
  /** The file versions cut uploads left, which a resume on any node must not continue. */
  cutUploads: PgCutUploads;
}

/**
 * Connects and migrates (under the advisory lock): the database must be there at start. `read`
 * (the commands that only read: `ferry users list|show`, `ferry bans list`) changes nothing: a
 * database whose schema is not the one this Ferry knows (never migrated, older or newer) is refused
 * with what `ferry db status` would say.
 */
export async function openSharedState(
  url: string,
  logger?: Logger,
  mode: 'migrate' | 'read' = 'migrate',
): Promise<SharedState> {
  const [{ Database, redact }, { describeSchema, schemaVersion }, { PgAccounts }, { PgUsage }, { PgBans }] =
    await Promise.all([
      import('../db/database.js'),
      import('../db/migrations.js'),
      import('../db/accounts.js'),
      import('../db/usage.js'),
      import('../db/bans.js'),
    ]);
  const db = await Database.open(url, { ...(logger ? { logger } : {}), migrate: mode === 'migrate' });
  if (mode === 'read') {
    let problem: string | undefined;
    try {
      const schema = describeSchema(await schemaVersion(db.pool));
      if (!schema.current) problem = schema.text;
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem !== undefined) {
      await db.close();
      throw new FerryError('ERR_UNAVAILABLE', `database ${redact(url)}: ${problem}`);
    }
  }
  const accounts = new PgAccounts(db, url, logger);
  const usage = new PgUsage(db, logger);
  const bans = new PgBans(db, logger);
  return {
    db,
    accounts,
    usage,
    bans,
    close: async () => {
      // The last writes below get a bounded wait: a database that does not answer is let go.
      db.stopWithin();
      await accounts.close();
      await bans.close();
      await usage.close();
      await db.close();
    },
  };
}

/** The shared state plus this node's session leases and the cut uploads (a serving node). */
export async function openServingState(url: string, logger: Logger): Promise<ServingState> {
  const shared = await openSharedState(url, logger).catch(async (err: unknown) => {
    throw await atStart(url, err);
  });
  const [{ PgSessions }, { PgCutUploads }] = await Promise.all([
    import('../db/sessions.js'),
    import('../db/cut-uploads.js'),
  ]);
  const sessions = new PgSessions(shared.db, { logger });
  return {
    ...shared,
    sessions,
    cutUploads: new PgCutUploads(shared.db, logger),
    close: async () => {
      shared.db.stopWithin();
      await sessions.close();
      await shared.close();
    },
  };
}

/**
 * A node cannot come up without its database (it reconnects by itself only once running): when the
 * database could not be reached at all, says that this happened at start and what to do.
 */
async function atStart(url: string, err: unknown): Promise<unknown> {
  const { isUnreachable, redact } = await import('../db/database.js');
  const cause = err instanceof FerryError ? err.cause : undefined;
  if (!isUnreachable(cause)) return err;
  // Not a configuration error (exit 2): exit 1, which the shipped unit restarts (it does not restart 2).
  return new FerryError(
    'ERR_TRANSIENT',
    `database ${redact(url)} cannot be reached at start (${(cause as Error).message}): a node needs its database to start; start PostgreSQL or correct accounts.postgres (FERRY_DATABASE_URL), then start the node again (the systemd unit in packaging/ does, every 2 s)`,
    { cause },
  );
}
