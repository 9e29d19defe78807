// Quota usage in PostgreSQL: one row per user, changed only by atomic UPDATEs (`bytes = bytes + n`),
// so nodes uploading for one user at once add up instead of overwriting each other. Changes that
// cannot be written (the database away) are kept and retried until they are. Each change has an id
// (migration 5): one the node gave up on, which the database ran later all the same (it hung, then
// answered), is not added a second time by its retry.
import { randomUUID } from 'node:crypto';
import { USAGE_RETRY_MESSAGES, warnUnwritten, type Usage, type UsageLedger } from '../storage/quota.js';
import { silentLogger, type Logger } from '../logger.js';
import { isUnavailable, type Database } from './database.js';
import { RetriedWrite } from '../retried-write.js';

interface UsageRow {
  bytes: string;
  files: string;
}

const usageOf = (r: UsageRow): Usage => ({ bytes: Number(r.bytes), files: Number(r.files) });

/** A change not written yet: its write sets the effect of its id to `delta` (ferry_usage_settle). */
interface Change {
  readonly username: string;
  delta: Usage;
}

export class PgUsage implements UsageLedger {
  /** By id. Changes to one user may share one: its write sets the id's effect to their sum. */
  readonly #pending = new Map<string, Change>();
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
      () => ({ users: [...this.pending.keys()] }),
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
    const p = this.pending.get(username);
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
    this.#keep(username, delta);
    await this.flush();
  }

  /**
   * Kept to be written. A change tried already (`tried`: its id) stays under its id, the database
   * may have run it; a new one joins any change of the user's not being written (its write then
   * sets that id's effect to both).
   */
  #keep(username: string, delta: Usage, tried?: string): void {
    const into = tried === undefined && [...this.#pending.values()].find((c) => c.username === username);
    if (into) into.delta = { bytes: into.delta.bytes + delta.bytes, files: into.delta.files + delta.files };
    else this.#pending.set(tried ?? randomUUID(), { username, delta: { ...delta } });
  }

  async charge(
    username: string,
    delta: Usage,
    limit: { bytes?: number; files?: number },
    release: Usage = { bytes: 0, files: 0 },
  ): Promise<boolean> {
    // One step decides and applies: the delta when it fits, else the release (migration 5).
    const id = randomUUID();
    let fits: boolean | null | undefined;
    try {
      const { rows } = await this.db.query<{ fits: boolean | null }>(
        'SELECT ferry_usage_charge($1, $2, $3, $4, $5, $6, $7, $8) AS fits',
        [
          id,
          username,
          delta.bytes,
          delta.files,
          limit.bytes ?? null,
          limit.files ?? null,
          release.bytes,
          release.files,
        ],
      );
      fits = rows[0]?.fits;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      // Counted, to be written under this charge's id: if the database ran it after all (it hung,
      // then answered), the write sets its effect to the delta instead of adding it again.
      this.#keep(username, delta, id);
      void this.flush();
      return true;
    }
    // No record (a rescan or rm dropped it): nothing to hold against; the next upload counts again.
    return fits ?? true;
  }

  async set(username: string, usage: Usage): Promise<void> {
    this.#drop(username);
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
    if (this.pending.has(username)) return false;
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
    this.#drop(username);
    await this.db.query('DELETE FROM ferry_usage WHERE username = $1', [username]);
  }

  /** Changes not written yet, per user (tests, and the log at shutdown). */
  get pending(): ReadonlyMap<string, Usage> {
    const sums = new Map<string, Usage>();
    for (const { username, delta } of this.#pending.values()) {
      const s = sums.get(username) ?? { bytes: 0, files: 0 };
      sums.set(username, { bytes: s.bytes + delta.bytes, files: s.files + delta.files });
    }
    return sums;
  }

  #drop(username: string): void {
    for (const [id, c] of this.#pending) if (c.username === username) this.#pending.delete(id);
  }

  /** Writes what is pending; resolves when done or when the database refused (then retried). */
  flush(): Promise<void> {
    return this.#writes.flush();
  }

  async close(): Promise<void> {
    this.#offRecover();
    await this.#writes.close();
    warnUnwritten(this.#logger, this.pending);
  }

  /**
   * Throws when a change could not be written: it, and the rest, stay pending. A change made during
   * a write is written by the next one (RetriedWrite.flush queues it).
   */
  async #write(): Promise<void> {
    for (const [id, change] of [...this.#pending]) {
      // Out while written: what is added meanwhile goes under another id.
      this.#pending.delete(id);
      try {
        await this.db.query('SELECT ferry_usage_settle($1, $2, $3, $4)', [
          id,
          change.username,
          change.delta.bytes,
          change.delta.files,
        ]);
      } catch (err) {
        this.#pending.set(id, change); // its id kept: this try too may yet be run
        throw err;
      }
    }
  }
}
