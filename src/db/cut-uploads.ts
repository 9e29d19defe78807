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
    o: { ttlMs: number; max: number; maxPerUser: number },
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
    o: { ttlMs: number; max: number; maxPerUser: number },
  ): Promise<CutRecord | undefined> {
    // One round trip (a put is on every STOR that replaces a file): ferry_cut_put (migration 3, its
    // per-user bound migration 4) locks the key, so that of two nodes' puts of one file each learns
    // of the other's row, keeps the record and prunes.
    const { rows } = await this.db.query<CutRow>(
      'SELECT id, size, modified, at, tag FROM ferry_cut_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      [
        username,
        path,
        r.id ?? null,
        r.size,
        r.modified,
        r.at,
        r.tag ?? null,
        r.at - o.ttlMs,
        o.max,
        o.maxPerUser,
      ],
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
