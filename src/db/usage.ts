// Quota usage in PostgreSQL: one row per user, changed only by atomic UPDATEs (`bytes = bytes + n`),
// so nodes uploading for one user at once add up instead of overwriting each other. Changes that
// cannot be written (the database away) are kept, merged per user, and retried until they are.
import { USAGE_RETRY_MESSAGES, warnUnwritten, type Usage, type UsageLedger } from '../storage/quota.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Database } from './database.js';
import { RetriedWrite } from '../retried-write.js';

interface UsageRow {
  bytes: string;
  files: string;
}

const usageOf = (r: UsageRow): Usage => ({ bytes: Number(r.bytes), files: Number(r.files) });

export class PgUsage implements UsageLedger {
  readonly #pending = new Map<string, Usage>();
  readonly #logger: Logger;
  readonly #writes: RetriedWrite;
  readonly #offRecover: () => void;

  constructor(
    readonly db: Database,
    logger: Logger = silentLogger,
  ) {
    this.#logger = logger;
    this.#writes = new RetriedWrite(
      logger,
      USAGE_RETRY_MESSAGES,
      () => this.#write(),
      () => ({ users: [...this.#pending.keys()] }),
    );
    this.#offRecover = db.onRecover(() => void this.flush());
  }

  /** The recorded usage plus what this node has not been able to write yet. */
  async get(username: string): Promise<Usage | undefined> {
    const { rows } = await this.db.query<UsageRow>(
      'SELECT bytes, files FROM ferry_usage WHERE username = $1',
      [username],
    );
    if (!rows[0]) return undefined;
    const u = usageOf(rows[0]);
    const p = this.#pending.get(username);
    return p ? { bytes: Math.max(0, u.bytes + p.bytes), files: Math.max(0, u.files + p.files) } : u;
  }

  async init(username: string, usage: Usage): Promise<Usage> {
    await this.db.query(
      'INSERT INTO ferry_usage (username, bytes, files) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING',
      [username, usage.bytes, usage.files],
    );
    return (await this.get(username)) ?? usage;
  }

  /** Never fails: what cannot be written now is retried (a completed upload stays counted). */
  async add(username: string, delta: Usage): Promise<void> {
    if (delta.bytes === 0 && delta.files === 0) return;
    const p = this.#pending.get(username) ?? { bytes: 0, files: 0 };
    p.bytes += delta.bytes;
    p.files += delta.files;
    this.#pending.set(username, p);
    await this.flush();
  }

  async charge(
    username: string,
    delta: Usage,
    limit: { bytes?: number; files?: number },
    release: Usage = { bytes: 0, files: 0 },
  ): Promise<boolean> {
    // One statement decides and applies: the delta when it fits, else the release. The row is
    // locked in the subquery so that `old` is its latest version, the one the update changes.
    const { rows } = await this.db.query<{ fits: boolean }>(
      `UPDATE ferry_usage u SET
         bytes = GREATEST(0, u.bytes + CASE WHEN old.fits THEN $2 ELSE -$6::bigint END),
         files = GREATEST(0, u.files + CASE WHEN old.fits THEN $3 ELSE -$7::bigint END)
       FROM (SELECT username,
                    ($2 <= 0 OR $4::bigint IS NULL OR bytes + $2 <= $4)
                    AND ($3 <= 0 OR $5::bigint IS NULL OR files + $3 <= $5) AS fits
             FROM ferry_usage WHERE username = $1 FOR UPDATE) old
       WHERE u.username = old.username
       RETURNING old.fits`,
      [
        username,
        delta.bytes,
        delta.files,
        limit.bytes ?? null,
        limit.files ?? null,
        release.bytes,
        release.files,
      ],
    );
    // No record (a rescan or rm dropped it): nothing to hold against; the next upload counts again.
    return rows[0]?.fits ?? true;
  }

  async set(username: string, usage: Usage): Promise<void> {
    this.#pending.delete(username);
    await this.db.query(
      `INSERT INTO ferry_usage (username, bytes, files) VALUES ($1, $2, $3)
       ON CONFLICT (username) DO UPDATE SET bytes = EXCLUDED.bytes, files = EXCLUDED.files`,
      [username, usage.bytes, usage.files],
    );
  }

  /**
   * Stores `to` if the row is still `from` (see UsageLedger), in one statement. Changes of this
   * node not written yet (the database was away) make it differ: false, as for another node's.
   */
  async replace(username: string, from: Usage | undefined | 'any', to: Usage): Promise<boolean> {
    if (from === 'any') {
      await this.set(username, to);
      return true;
    }
    if (this.#pending.has(username)) return false;
    const { rowCount } =
      from === undefined
        ? await this.db.query(
            'INSERT INTO ferry_usage (username, bytes, files) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING',
            [username, to.bytes, to.files],
          )
        : await this.db.query(
            'UPDATE ferry_usage SET bytes = $2, files = $3 WHERE username = $1 AND bytes = $4 AND files = $5',
            [username, to.bytes, to.files, from.bytes, from.files],
          );
    return rowCount === 1;
  }

  async forget(username: string): Promise<void> {
    this.#pending.delete(username);
    await this.db.query('DELETE FROM ferry_usage WHERE username = $1', [username]);
  }

  /** Changes not written yet, per user (tests, and the log at shutdown). */
  get pending(): ReadonlyMap<string, Usage> {
    return this.#pending;
  }

  /** Writes what is pending; resolves when done or when the database refused (then retried). */
  flush(): Promise<void> {
    return this.#writes.flush();
  }

  async close(): Promise<void> {
    this.#offRecover();
    await this.#writes.close();
    warnUnwritten(this.#logger, this.#pending);
  }

  /**
   * Throws when a change could not be written: it, and the rest, stay pending. A change made during
   * a write is written by the next one (RetriedWrite.flush queues it).
   */
  async #write(): Promise<void> {
    for (const [username, delta] of [...this.#pending]) {
      this.#pending.delete(username);
      try {
        await this.db.query(
          'UPDATE ferry_usage SET bytes = GREATEST(0, bytes + $2), files = GREATEST(0, files + $3) WHERE username = $1',
          [username, delta.bytes, delta.files],
        );
      } catch (err) {
        // Put back, merged with whatever was added meanwhile.
        const p = this.#pending.get(username) ?? { bytes: 0, files: 0 };
        this.#pending.set(username, { bytes: p.bytes + delta.bytes, files: p.files + delta.files });
        throw err;
      }
    }
  }
}
