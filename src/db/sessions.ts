// Per-user session limits counted across nodes: each logged-in session of a user with maxSessions
// is a row on a lease that its node renews; a node that dies stops renewing, and its rows stop
// counting when their lease expires.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { silentLogger, type Logger } from '../logger.js';
import { RetryLog } from '../retry-log.js';
import type { Database } from './database.js';

export interface SessionLeaseOptions {
  /** How long a session counts after its node last renewed it. Default 30 s. */
  leaseMs?: number;
  logger?: Logger;
}

/**
 * At most this many rows of leases that ended over an hour ago (their node killed, or stopped while
 * the database was away) are deleted per renewal: a table grown by many crashes is emptied in
 * steps, never by one long DELETE on every node at once. (A node cut off for longer writes its rows
 * back when it renews: see renew().)
 */
export const PURGE_BATCH = 1000;

/** Any fixed number: with the user's name, the advisory lock that makes a take atomic. */
const SESSION_LOCK = 0x46657273;

/** The counter a server uses (server/logins.ts UserSessionCounter), backed by the database. */
export class PgSessions {
  readonly node = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #leaseMs: number;
  readonly #logger: Logger;
  /**
   * Logins counted here alone while the database is away: the first, then one line a minute (a
   * line per login filled the log: ~95 lines in 33 s under load), and one when it counts again.
   */
  readonly #alone: RetryLog;
  readonly #renew: NodeJS.Timeout;
  readonly #offRecover: () => void;
  /** Row ids of this node's counted sessions, per user (given back in order). */
  readonly #mine = new Map<string, string[]>();
  /** Sessions counted here while the database was away: by this node's own count only. */
  readonly #local = new Map<string, number>();
  #next = 0;
  /** The DELETEs of leases given back, still running: each says whether it went through. */
  readonly #giving = new Set<Promise<boolean>>();
  /** What the database's last recovery set right (tests wait for it). */
  #restoring: Promise<void> = Promise.resolve();

  constructor(
    readonly db: Database,
    options: SessionLeaseOptions = {},
  ) {
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#logger = options.logger ?? silentLogger;
    this.#alone = new RetryLog(this.#logger, {
      failing: 'session limit counted on this node only',
      still: 'session limits still counted on this node only',
      done: 'session limits counted across the nodes again',
    });
    this.#renew = setInterval(() => void this.renew(), Math.max(100, Math.floor(this.#leaseMs / 3)));
    this.#renew.unref();
    this.#offRecover = db.onRecover(() => (this.#restoring = this.#restore()));
  }

  /**
   * The database is back: this node's leases may have run out meanwhile, and then its sessions
   * count on no node until the next renewal (maxSessions exceeded): renewed at once. The sessions
   * counted here meanwhile get their rows (leases) too.
   */
  async #restore(): Promise<void> {
    await this.renew();
    await this.#register();
  }

  /** Resolves once what the database's last recovery set right is done (tests). */
  restored(): Promise<void> {
    return this.#restoring;
  }

  async #register(): Promise<void> {
    for (const [user, n] of [...this.#local]) {
      for (let i = 0; i < n; i++) {
        const id = `${this.node}:${++this.#next}`;
        try {
          await this.db.query(
            `INSERT INTO ferry_sessions (id, node, username, expires)
             VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond')`,
            [id, this.node, user, this.#leaseMs],
          );
        } catch {
          return; // away again: the next recovery registers the rest
        }
        const left = (this.#local.get(user) ?? 0) - 1;
        if (left > 0) this.#local.set(user, left);
        else this.#local.delete(user);
        this.#mine.set(user, [...(this.#mine.get(user) ?? []), id]);
      }
    }
  }

  async take(user: string, max: number): Promise<boolean> {
    const id = `${this.node}:${++this.#next}`;
    try {
      const ok = await this.db.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SESSION_LOCK, user]);
        const { rows } = await c.query<{ n: string }>(
          'SELECT count(*) AS n FROM ferry_sessions WHERE username = $1 AND expires > clock_timestamp()',
          [user],
        );
        if (Number(rows[0]?.n ?? 0) >= max) return false;
        await c.query(
          `INSERT INTO ferry_sessions (id, node, username, expires)
           VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond')`,
          [id, this.node, user, this.#leaseMs],
        );
        return true;
      });
      if (ok) this.#mine.set(user, [...(this.#mine.get(user) ?? []), id]);
      this.#alone.succeeded();
      return ok;
    } catch (err) {
      // The database is away: this node's own sessions are all it can count.
      const here = (this.#mine.get(user)?.length ?? 0) + (this.#local.get(user) ?? 0);
      this.#alone.failed({ user, err: (err as Error).message });
      if (here >= max) return false;
      this.#local.set(user, (this.#local.get(user) ?? 0) + 1);
      return true;
    }
  }

  give(user: string): void {
    const local = this.#local.get(user) ?? 0;
    if (local > 0) {
      if (local === 1) this.#local.delete(user);
      else this.#local.set(user, local - 1);
      return;
    }
    const ids = this.#mine.get(user);
    const id = ids?.shift();
    if (ids?.length === 0) this.#mine.delete(user);
    if (id === undefined) return;
    // Lost when the database is away: the lease then ends it.
    const giving: Promise<boolean> = this.db
      .query('DELETE FROM ferry_sessions WHERE id = $1', [id])
      .then(
        () => true,
        () => false,
      )
      .finally(() => this.#giving.delete(giving));
    this.#giving.add(giving);
  }

  /**
   * Extends the leases of this node's sessions (and drops long-expired rows of dead nodes). Written
   * from this node's own list, not by updating its rows: a node cut off for over an hour finds its
   * rows purged by the others and puts them back, and a row whose DELETE was lost while the database
   * was away (its session ended) is not renewed, so its lease ends.
   */
  async renew(): Promise<void> {
    const ids: string[] = [];
    const users: string[] = [];
    for (const [user, mine] of this.#mine) {
      for (const id of mine) {
        ids.push(id);
        users.push(user);
      }
    }
    try {
      if (ids.length > 0) {
        await this.db.query(
          `INSERT INTO ferry_sessions (id, node, username, expires)
           SELECT id, $1, username, clock_timestamp() + $2 * interval '1 millisecond'
           FROM unnest($3::text[], $4::text[]) AS s(id, username)
           ON CONFLICT (id) DO UPDATE SET expires = EXCLUDED.expires`,
          [this.node, this.#leaseMs, ids, users],
        );
        // A session given back while the statement ran: its DELETE may have run first.
        const mine = new Set([...this.#mine.values()].flat());
        const gone = ids.filter((id) => !mine.has(id));
        if (gone.length > 0) await this.db.query('DELETE FROM ferry_sessions WHERE id = ANY($1)', [gone]);
      }
      // SKIP LOCKED: nodes renewing at once delete different rows instead of waiting on each other.
      await this.db.query(
        `DELETE FROM ferry_sessions WHERE id IN (
           SELECT id FROM ferry_sessions WHERE expires < clock_timestamp() - interval '1 hour'
           LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        [PURGE_BATCH],
      );
    } catch {
      // Retried at the next tick; the database's recovery is logged by Database.
    }
  }

  /** Ends this node's leases (a clean shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#renew);
    this.#offRecover();
    // The sessions the stop just closed gave theirs back: those not ended count as left too.
    const given = await Promise.all(this.#giving);
    const leases = [...this.#mine.values()].flat().length + given.filter((ok) => !ok).length;
    await this.db.query('DELETE FROM ferry_sessions WHERE node = $1', [this.node]).catch((err: unknown) => {
      if (leases > 0)
        this.#logger.warn(
          { leases, leaseMs: this.#leaseMs, err: (err as Error).message },
          "session leases not ended at shutdown: they count against their users' session limits until they expire",
        );
    });
    this.#mine.clear();
  }
}
