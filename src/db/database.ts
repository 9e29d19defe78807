// The connection to PostgreSQL that a Ferry node shares its state through: a pool for queries, the
// schema brought up to date at open, whether the database is reachable now, and the change feed
// (LISTEN/NOTIFY plus a periodic read of the change log) that tells this node what others changed.
// pg is CommonJS: its classes are on the default export at run time; the declarations name its
// types without a default import (no esModuleInterop needed in an application).
import net from 'node:net';
import pg from 'pg';
import type * as PG from 'pg';
import { FerryError } from '../errors.js';
import { redact } from './database-url.js';
import { silentLogger, type Logger } from '../logger.js';
import { migrate, type Migration } from './migrations.js';

/** The URL without its password (database-url.ts), for the CLI's messages. */
export { redact };

export interface DatabaseOptions {
  logger?: Logger;
  /** Apply the migrations at open (under the advisory lock). Default true. */
  migrate?: boolean;
  /** How often the change log is read even without a notification. Default 1000 ms. */
  pollMs?: number;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** While the database is away, how often a connection of its own tries it. Default 1000 ms. */
  probeMs?: number;
}

const CHANNEL = 'ferry_changes';
/** Changes are re-read over this window, so a transaction that committed late is not missed. */
const WINDOW_SECONDS = 10;

/** How long a connection may take to be ready (a database that accepts and never answers: a hung host). */
export const CONNECT_TIMEOUT_MS = 3000;
/**
 * How long a stop waits for the database (the last writes, the connections' goodbyes) before it
 * cuts the connections: one that does not answer must not hold the process (only SIGKILL ended it).
 */
export const STOP_WAIT_MS = 2000;
/**
 * Probes in a row that must find the database answering before it counts as back: one good answer
 * from a flapping database made the node announce it back (and resynchronize) at each flap.
 */
export const PROBES_TO_RECOVER = 2;

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Node's system errors (ECONNRESET, ETIMEDOUT, ENOTFOUND…): the connection, not a query. */
const SYSTEM_ERROR = /^E[A-Z0-9]+$/;

/**
 * True when `err` says the database cannot be reached (as opposed to a query it refused, or any
 * other error: a TypeError or a FerryError of the caller's own logic is no database being away).
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof FerryError) return err.code === 'ERR_TRANSIENT';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // SQLSTATE classes 08 (connection), 57P (shutdown), 53 (resources).
  if (SQLSTATE.test(code)) return /^(08|57P|53)/.test(code);
  return SYSTEM_ERROR.test(code);
}

/**
 * True for an error the driver itself raised (from a query or a connect) that says the database is
 * away: besides what isUnavailable() knows, the driver's own errors without a code (the connection
 * ended, a query or connect timed out) are about the connection; the TypeErrors it raises for a
 * call it cannot make (no query, a parameter it cannot serialize) are the caller's.
 */
function driverUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof FerryError || typeof code === 'string') return isUnavailable(err);
  return !(err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError);
}

/**
 * True when `err` says the server could not be reached at all (refused, no such host or socket, not
 * accepting connections yet), rather than that it answered with a refusal (a wrong password).
 */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^E[A-Z]+$/.test(code) || /^(08|57P)/.test(code));
}

export const unavailable = (err: unknown): FerryError =>
  err instanceof FerryError && err.code === 'ERR_TRANSIENT'
    ? err
    : new FerryError('ERR_TRANSIENT', `database unavailable: ${(err as Error).message}`);

type Queryable = Pick<PG.PoolClient, 'query'>;

/** Adds a row to the change log and notifies the nodes (the notification leaves at commit). */
export async function recordChange(c: Queryable, kind: string, key: string): Promise<void> {
  await c.query(
    `WITH c AS (INSERT INTO ferry_changes (kind, key) VALUES ($1, $2) RETURNING kind)
     SELECT pg_notify('${CHANNEL}', kind) FROM c`,
    [kind, key],
  );
}

export class Database {
  readonly pool: PG.Pool;
  readonly #url: string;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #probeMs: number;
  /**
   * False from the first failure that says the database is away until PROBES_TO_RECOVER probes in a
   * row found it answering: meanwhile queries fail at once (a circuit), not each after its timeout.
   */
  #up = true;
  #probe: NodeJS.Timeout | undefined;
  /** Probes in a row that found the database answering. */
  #goodProbes = 0;
  #closed = false;
  /** The stop's wait for the database ran out: connections cut, queries refused at once. */
  #letGo = false;
  #stopWait: NodeJS.Timeout | undefined;
  /** Every connection's socket, so that a stop can cut those the database does not answer on. */
  readonly #sockets = new Set<net.Socket>();
  readonly #kinds = new Map<string, Set<(key: string) => void>>();
  readonly #recovered = new Set<() => void>();
  #listener: PG.Client | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollAgain = false;
  #polls = 0;
  #since: string | null = null;
  /** Change-log rows already dispatched that are still inside the re-read window. */
  #seen = new Set<string>();

  private constructor(url: string, options: DatabaseOptions) {
    this.#url = url;
    this.#logger = options.logger ?? silentLogger;
    this.#pollMs = options.pollMs ?? 1000;
    this.#probeMs = options.probeMs ?? 1000;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      stream: this.#socket,
      // A database that hangs counts as away: a login must not wait on it for ever.
      query_timeout: 5000,
      idleTimeoutMillis: 10_000,
      application_name: 'ferry',
    });
    // An idle connection that breaks (database restarted) must not crash the process. Nor does it
    // say the database away (the pool drops it, the next query connects anew): the circuit opens
    // only on a use that failed, else a connection the server or a firewall closed while idle
    // would refuse logins until the probes found the database back.
    this.pool.on('error', (err) =>
      this.#logger.debug({ err: err.message }, 'an idle database connection broke'),
    );
  }

  /** Connects and (by default) migrates; fails with the reason when the database cannot be used. */
  static async open(url: string, options: DatabaseOptions = {}): Promise<Database> {
    const db = new Database(url, options);
    try {
      if (options.migrate ?? true) {
        const applied: Migration[] = await migrateDatabase(url);
        for (const m of applied)
          db.#logger.info({ version: m.version, name: m.name }, 'database migration applied');
      } else await db.pool.query('SELECT 1');
    } catch (err) {
      await db.pool.end().catch(() => {});
      if (err instanceof FerryError) throw err;
      throw new FerryError('ERR_INVALID_OPTION', `database ${redact(url)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return db;
  }

  /** False from a failure that says the database is away until probes found it back (see #up). */
  get available(): boolean {
    return this.#up;
  }

  /**
   * A query; a database that cannot be reached becomes FerryError ERR_TRANSIENT, at once while it
   * is known away.
   */
  async query<R extends PG.QueryResultRow>(text: string, values?: unknown[]): Promise<PG.QueryResult<R>> {
    this.#refuseWhenLetGo();
    this.#refuseWhenAway();
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw this.#failed(err, true);
    }
  }

  /**
   * Runs `fn` in a transaction (committed when it resolves, rolled back when it throws). Only what
   * the driver raised can say the database is away: `fn`'s own errors are rethrown as they are.
   */
  async transaction<T>(fn: (c: PG.PoolClient) => Promise<T>): Promise<T> {
    this.#refuseWhenLetGo();
    this.#refuseWhenAway();
    let client: PG.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.#failed(err, true);
    }
    const fromDriver = new WeakSet<object>();
    const watched = watchQueries(client, fromDriver);
    // The pool listens for a broken connection only while the client is idle: this is its listener
    // while checked out (else an error between two queries of `fn` is an uncaught exception).
    const onError = (err: Error): void => this.#down(err);
    client.on('error', onError);
    let broken: unknown;
    try {
      await watched.query('BEGIN');
      const result = await fn(watched);
      await watched.query('COMMIT');
      return result;
    } catch (err) {
      const driver = typeof err === 'object' && err !== null && fromDriver.has(err);
      broken = driver && driverUnavailable(err) ? err : undefined;
      await client.query('ROLLBACK').catch(() => {});
      throw this.#failed(err, driver);
    } finally {
      client.off('error', onError);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** Calls `listener` with the key of each change of `kind` made by any node (this one too). */
  onChange(kind: string, listener: (key: string) => void): () => void {
    const set = this.#kinds.get(kind) ?? new Set();
    set.add(listener);
    this.#kinds.set(kind, set);
    this.#follow();
    return () => set.delete(listener);
  }

  /** Called when the database is reachable again after it was not (resynchronize what you cache). */
  onRecover(listener: () => void): () => void {
    this.#recovered.add(listener);
    this.#follow();
    return () => this.#recovered.delete(listener);
  }

  /** Resolves once the database counts as available (at once when it does). */
  back(): Promise<void> {
    if (this.#up) return Promise.resolve();
    // The probes' timer does not hold the process up; a caller waiting for them does.
    const held = setInterval(() => {}, 60_000);
    return new Promise((resolve) => {
      const off = this.onRecover(() => {
        off();
        clearInterval(held);
        resolve();
      });
    });
  }

  /** Reads the change log now (tests and callers that just changed something). */
  sync(): Promise<void> {
    if (this.#polling) {
      this.#pollAgain = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      do {
        this.#pollAgain = false;
        await this.#readChanges();
      } while (this.#pollAgain && !this.#closed);
      this.#polling = undefined;
    })();
    return this.#polling;
  }

  /**
   * A stop begins: the database gets `ms` more (the last writes), then every connection is cut, so
   * that what waits on one fails as with a database away, and later queries fail at once.
   */
  stopWithin(ms: number = STOP_WAIT_MS): void {
    if (this.#stopWait || this.#letGo) return;
    this.#stopWait = setTimeout(() => this.#cut(), ms);
    this.#stopWait.unref();
  }

  /** Ends the connections: at most STOP_WAIT_MS (from stopWithin, when it was called) for their goodbyes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.stopWithin();
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#reconnect);
    clearTimeout(this.#probe);
    this.#kinds.clear();
    this.#recovered.clear();
    const listener = this.#listener;
    this.#listener = undefined;
    await this.#polling?.catch(() => {});
    await listener?.end().catch(() => {});
    await this.pool.end().catch(() => {});
    clearTimeout(this.#stopWait);
  }

  readonly #socket = (): net.Socket => {
    const socket = new net.Socket();
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    // Let go: a connection asked for since (a query queued before) fails at once, not at its timeout.
    if (this.#letGo) setImmediate(() => socket.destroy());
    return socket;
  };

  #cut(): void {
    this.#letGo = true;
    if (this.#sockets.size === 0) return;
    this.#logger.warn(
      { connections: this.#sockets.size },
      'database did not answer at the stop: its connections are cut',
    );
    for (const s of this.#sockets) s.destroy();
  }

  #refuseWhenLetGo(): void {
    if (this.#letGo) throw unavailable(new Error('the database did not answer at the stop'));
  }

  #refuseWhenAway(): void {
    if (!this.#up) throw unavailable(new Error('known away: waiting for a probe to find it back'));
  }

  #follow(): void {
    if (this.#poll || this.#closed) return;
    this.#poll = setInterval(() => void this.sync(), this.#pollMs);
    this.#poll.unref();
    void this.#listen();
    void this.sync();
  }

  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: 'ferry-listen',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      stream: this.#socket,
    });
    const retry = (err: Error): void => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      this.#down(err);
      client.end().catch(() => {});
      if (this.#closed) return;
      this.#reconnect = setTimeout(() => void this.#listen(), this.#pollMs);
      this.#reconnect.unref();
    };
    this.#listener = client;
    client.on('error', retry);
    client.on('end', () => retry(new Error('listen connection ended')));
    client.on('notification', () => void this.sync());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // Whatever was notified while not listening is in the change log: read it.
      void this.sync();
    } catch (err) {
      retry(err as Error);
    }
  }

  async #readChanges(): Promise<void> {
    // Away: the probes find it back, and the recovery has every listener re-read what it caches.
    if (this.#letGo || !this.#up) return;
    let rows: { seq: string; kind: string; key: string }[];
    try {
      const r = await this.pool.query<{ now: string; changes: { seq: string; kind: string; key: string }[] }>(
        `SELECT clock_timestamp()::text AS now, COALESCE((
           SELECT json_agg(json_build_object('seq', seq::text, 'kind', kind, 'key', key) ORDER BY seq)
           FROM ferry_changes
           WHERE at > COALESCE($1::timestamptz, clock_timestamp()) - interval '${WINDOW_SECONDS} seconds'
         ), '[]'::json) AS changes`,
        [this.#since],
      );
      const row = r.rows[0];
      this.#since = row?.now ?? this.#since;
      rows = row?.changes ?? [];
      if (++this.#polls % 300 === 0) {
        await this.pool.query("DELETE FROM ferry_changes WHERE at < clock_timestamp() - interval '1 hour'");
      }
    } catch (err) {
      this.#down(err);
      return;
    }
    const seen = new Set<string>();
    for (const c of rows) {
      seen.add(c.seq);
      if (this.#seen.has(c.seq)) continue;
      for (const l of this.#kinds.get(c.kind) ?? []) this.#tell(() => l(c.key));
    }
    this.#seen = seen;
  }

  /** `err`, or ERR_TRANSIENT when it says the database is away (`driver`: the driver raised it). */
  #failed(err: unknown, driver: boolean): unknown {
    // Not the driver's: only a database call made inside that already said so (ERR_TRANSIENT).
    const away = driver ? driverUnavailable(err) : err instanceof FerryError && err.code === 'ERR_TRANSIENT';
    if (!away) return err;
    this.#down(err);
    return unavailable(err);
  }

  #down(err: unknown): void {
    if (!this.#up || this.#closed) return;
    this.#up = false;
    this.#goodProbes = 0;
    this.#logger.error({ err: (err as Error).message }, 'database unavailable');
    this.#probeLater();
  }

  #probeLater(): void {
    if (this.#closed || this.#letGo) return;
    this.#probe = setTimeout(() => void this.#tryDatabase(), this.#probeMs);
    this.#probe.unref();
  }

  /** A probe on a connection of its own (the pool's may be stuck on the hang), bounded in time. */
  async #tryDatabase(): Promise<void> {
    let answered = true;
    try {
      await probe(this.#url, this.#socket(), CONNECT_TIMEOUT_MS);
      this.#goodProbes++;
    } catch {
      answered = false;
      this.#goodProbes = 0;
    }
    this.#logger.debug({ answered, inARow: this.#goodProbes }, 'database probe');
    if (this.#goodProbes >= PROBES_TO_RECOVER) this.#upAgain();
    else this.#probeLater();
  }

  #upAgain(): void {
    if (this.#up || this.#closed) return;
    this.#up = true;
    this.#logger.warn({}, 'database available again');
    for (const l of this.#recovered) this.#tell(l);
  }

  /**
   * Calls a listener: one that throws is logged, not thrown into the poll (a rejection nobody
   * awaits ends the process) nor into the query whose success announced the recovery.
   */
  #tell(listener: () => void): void {
    try {
      listener();
    } catch (err) {
      this.#logger.error({ err: (err as Error).message }, 'a database change listener failed');
    }
  }
}

/**
 * `client` as `fn` of a transaction sees it: each error its queries reject with is noted in
 * `fromDriver`, so that the transaction tells the driver's errors from the callback's own.
 */
function watchQueries(client: PG.PoolClient, fromDriver: WeakSet<object>): PG.PoolClient {
  const note = (err: unknown): void => {
    if (typeof err === 'object' && err !== null) fromDriver.add(err);
  };
  const query = (...args: unknown[]): unknown => {
    try {
      const r: unknown = Reflect.apply(client.query, client, args);
      // Noted before the caller's own handler runs: this one was attached first.
      if (r instanceof Promise) r.catch(note);
      return r;
    } catch (err) {
      note(err);
      throw err;
    }
  };
  return new Proxy(client, {
    get: (target, prop) => (prop === 'query' ? query : Reflect.get(target, prop, target)),
  });
}

/**
 * Applies the migrations over a connection of its own: waiting for another node's migration (the
 * advisory lock) may take longer than a query of the pool is allowed to.
 */
export async function migrateDatabase(url: string): Promise<Migration[]> {
  const socket = new net.Socket();
  const client = new pg.Client({
    connectionString: url,
    application_name: 'ferry-migrate',
    stream: () => socket,
  });
  await connectWithin(client, socket, CONNECT_TIMEOUT_MS);
  try {
    return await migrate(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Connects over `socket` and runs SELECT 1, or fails (ETIMEDOUT when nothing answered within `ms`). */
async function probe(url: string, socket: net.Socket, ms: number): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'ferry-probe',
    stream: () => socket,
  });
  client.on('error', () => {}); // its failure is the probe's answer
  await connectWithin(client, socket, ms);
  const timer = setTimeout(() => socket.destroy(), ms);
  try {
    await client.query('SELECT 1');
  } finally {
    clearTimeout(timer);
    client.end().catch(() => {}); // not awaited: a goodbye the database does not answer holds nothing
  }
}

/**
 * Connects `client` (over `socket`), or fails with code ETIMEDOUT when the database has not
 * answered within `ms` (it accepted and says nothing: a hung host): the driver would wait for ever.
 */
async function connectWithin(client: PG.Client, socket: net.Socket, ms: number): Promise<void> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    socket.destroy();
  }, ms);
  try {
    await client.connect();
  } catch (err) {
    if (!late) throw err;
    throw Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT', cause: err });
  } finally {
    clearTimeout(timer);
  }
}
