// The file versions cut replacing uploads left, in PostgreSQL, so that a resume reaching another
// node is refused as on the node that saw the cut (server/cut-uploads.ts keeps the semantics).
// While the database is away this store is skipped (one warn line an outage), uploads go on, and
// each node refuses from its own record (its file) alone.
import { silentLogger, type Logger } from '../logger.js';
import type { CutRecord, SharedCutUploads } from '../shared-cut-uploads.js';
import { isUnavailable, type Database } from './database.js';

interface CutRow {
  id: string | null;
  size: string;
  modified: string;
  at: string;
  tag: string | null;
}

/** The advisory lock class of a cut record's key (the key a hash of user and path). */
export const CUT_LOCK = 0x46657275;

/** Keeps a record, giving the row it replaced. */
const PUT = `WITH before AS (
    SELECT id, size, modified, at, tag FROM ferry_cut_uploads WHERE username = $1 AND path = $2
  ), put AS (
    INSERT INTO ferry_cut_uploads (username, path, id, size, modified, at, tag)
      VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (username, path) DO UPDATE
      SET id = EXCLUDED.id, size = EXCLUDED.size, modified = EXCLUDED.modified, at = EXCLUDED.at,
        tag = EXCLUDED.tag
  )
  SELECT id, size, modified, at, tag FROM before`;

export class PgCutUploads implements SharedCutUploads {
  readonly #logger: Logger;
  /** Whether this outage was logged. */
  #warned = false;

  constructor(
    readonly db: Database,
    logger: Logger = silentLogger,
  ) {
    this.#logger = logger;
  }

  put(
    username: string,
    path: string,
    r: CutRecord,
    o: { ttlMs: number; max: number },
  ): Promise<CutRecord | undefined> {
    return this.#use(() => this.#put(username, path, r, o));
  }

  async delete(username: string, path: string, at?: number, tag?: string): Promise<void> {
    let sql = 'DELETE FROM ferry_cut_uploads WHERE username = $1 AND path = $2';
    const values: unknown[] = [username, path];
    if (at !== undefined) sql += ` AND at = $${values.push(at)}`;
    if (at !== undefined && tag !== undefined) sql += ` AND tag = $${values.push(tag)}`;
    await this.#use(() => this.db.query(sql, values));
  }

  get(username: string, path: string): Promise<CutRecord | undefined> {
    return this.#use(() => this.#get(username, path));
  }

  /** `op`, or nothing while the database is away (a query it refuses still rejects). */
  async #use<T>(op: () => Promise<T>): Promise<T | undefined> {
    if (this.db.available) {
      try {
        const r = await op();
        this.#warned = false;
        return r;
      } catch (err) {
        if (!isUnavailable(err)) throw err;
      }
    }
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn(
        {},
        'cut uploads not shared while the database is unavailable: each node refuses alone',
      );
    }
    return undefined;
  }

  async #put(
    username: string,
    path: string,
    r: CutRecord,
    o: { ttlMs: number; max: number },
  ): Promise<CutRecord | undefined> {
    // Under a lock on the key: a put waits for another node's put of the same file to commit, and
    // its statement (a snapshot taken after the lock) sees that row; without it both puts, their
    // snapshots taken before either committed, would be told none stood. `before` sees the row as
    // it stood (a WITH's parts share one snapshot).
    const rows = await this.db.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2 || $3))', [CUT_LOCK, username, path]);
      const values = [username, path, r.id ?? null, r.size, r.modified, r.at, r.tag ?? null];
      return (await c.query<CutRow>(PUT, values)).rows;
    });
    // Bounded whatever clients do: the expired, then the oldest beyond max.
    await this.db.query(
      `DELETE FROM ferry_cut_uploads WHERE at < $1
         OR at < (SELECT at FROM ferry_cut_uploads ORDER BY at DESC OFFSET $2 LIMIT 1)`,
      [r.at - o.ttlMs, o.max - 1],
    );
    return recordOf(rows[0]);
  }

  async #get(username: string, path: string): Promise<CutRecord | undefined> {
    const { rows } = await this.db.query<CutRow>(
      'SELECT id, size, modified, at, tag FROM ferry_cut_uploads WHERE username = $1 AND path = $2',
      [username, path],
    );
    return recordOf(rows[0]);
  }
}

function recordOf(row: CutRow | undefined): CutRecord | undefined {
  if (!row) return undefined;
  return {
    ...(row.id === null ? {} : { id: row.id }),
    size: Number(row.size),
    modified: Number(row.modified),
    at: Number(row.at),
    ...(row.tag === null ? {} : { tag: row.tag }),
  };
}
