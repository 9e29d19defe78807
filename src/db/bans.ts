// The defender's bans in PostgreSQL, shared by every node: a ban raised on one node is written here
// and announced in the change log, so each node's defender refuses the address within a second.
import type { Ban } from '../defender/defender.js';
import type { SharedBans } from '../defender/shared-bans.js';
import { silentLogger, type Logger } from '../logger.js';
import { recordChange, type Database } from './database.js';
import { RetriedWrite } from '../retried-write.js';

const KIND = 'ban';

interface BanRow {
  address: string;
  since: string;
  until: string;
  bans: number;
}

const banOf = (r: BanRow): Ban => ({
  address: r.address,
  since: Number(r.since),
  until: Number(r.until),
  bans: r.bans,
});

export class PgBans implements SharedBans {
  /** Bans raised or lifted here and not yet written (the database away): retried. */
  readonly #pending = new Map<string, Ban>();
  readonly #offs: (() => void)[] = [];
  readonly #writes: RetriedWrite;
  readonly #logger: Logger;

  constructor(
    readonly db: Database,
    logger: Logger = silentLogger,
  ) {
    this.#logger = logger;
    this.#writes = new RetriedWrite(
      logger,
      {
        failing: 'ban not saved yet: retrying',
        still: 'bans still not saved: retrying',
        done: 'bans saved after retries',
      },
      () => this.#write(),
      () => ({ remotes: [...this.#pending.keys()] }),
    );
  }

  async load(sinceMs: number): Promise<Ban[]> {
    const { rows } = await this.db.query<BanRow>(
      'SELECT address, since, until, bans FROM ferry_bans WHERE until > $1 ORDER BY until',
      [sinceMs],
    );
    return rows.map(banOf);
  }

  save(ban: Ban): void {
    const queued = this.#pending.get(ban.address);
    // The newer ban, or the same ban's end, wins.
    if (!queued || queued.since <= ban.since) this.#pending.set(ban.address, ban);
    void this.#writes.flush();
  }

  onChange(listener: (ban: Ban) => void): () => void {
    const offChange = this.db.onChange(KIND, (address) => {
      this.db
        .query<BanRow>('SELECT address, since, until, bans FROM ferry_bans WHERE address = $1', [address])
        .then((r) => r.rows[0] && listener(banOf(r.rows[0])))
        .catch(() => {}); // the recovery reloads everything
    });
    const offRecover = this.db.onRecover(() => {
      void this.#writes.flush();
      this.load(Date.now() - 86_400_000)
        .then((bans) => bans.forEach(listener))
        .catch(() => {});
    });
    const off = (): void => {
      offChange();
      offRecover();
    };
    this.#offs.push(off);
    return off;
  }

  async list(): Promise<Ban[]> {
    return (await this.load(Date.now())).filter((b) => b.until > Date.now());
  }

  remove(address: string): Promise<boolean> {
    return this.db.transaction(async (c) => {
      const now = Date.now();
      const r = await c.query('UPDATE ferry_bans SET until = $2 WHERE address = $1 AND until > $2', [
        address,
        now,
      ]);
      if (r.rowCount !== 1) return false;
      await recordChange(c, KIND, address);
      return true;
    });
  }

  /**
   * A ban `ferry bans add` made, written now (the command waits for it): it replaces the one on
   * that address, counted as a repeat; every node follows it through the change log. The reason
   * is not kept here (the table has no column for it).
   */
  add(ban: Omit<Ban, 'bans'>): Promise<Ban> {
    return this.db.transaction(async (c) => {
      const { rows } = await c.query<BanRow>(
        `INSERT INTO ferry_bans (address, since, until, bans) VALUES ($1, $2, $3, 1)
           ON CONFLICT (address) DO UPDATE SET since = EXCLUDED.since, until = EXCLUDED.until, bans = ferry_bans.bans + 1
           RETURNING address, since, until, bans`,
        [ban.address, ban.since, ban.until],
      );
      await recordChange(c, KIND, ban.address);
      return banOf(rows[0] as BanRow);
    });
  }

  async close(): Promise<void> {
    for (const off of this.#offs.splice(0)) off();
    // A last try for what is pending (a ban raised just before shutdown).
    await this.#writes.close();
    if (this.#pending.size > 0)
      this.#logger.warn(
        { remotes: [...this.#pending.keys()] },
        'bans not written at shutdown: the other nodes do not refuse these addresses',
      );
  }

  /** Throws when a ban could not be saved: it, and the rest, stay pending. */
  async #write(): Promise<void> {
    for (const [address, ban] of this.#pending) {
      await this.db.transaction(async (c) => {
        // A newer ban on another node wins over this one.
        await c.query(
          `INSERT INTO ferry_bans (address, since, until, bans) VALUES ($1, $2, $3, $4)
             ON CONFLICT (address) DO UPDATE SET since = EXCLUDED.since, until = EXCLUDED.until, bans = EXCLUDED.bans
             WHERE ferry_bans.since <= EXCLUDED.since`,
          [address, ban.since, ban.until, ban.bans],
        );
        await recordChange(c, KIND, address);
      });
      if (this.#pending.get(address) === ban) this.#pending.delete(address);
    }
  }
}
