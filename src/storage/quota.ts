// Quotas: what a user stores (bytes and regular files over their home), where it is kept between
// restarts (a UsageLedger), how it is counted from scratch (scanUsage), and the cap that refuses an
// upload from the byte that would cross the quota.
import { Transform, type TransformCallback } from 'node:stream';
import { QuotaError, StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ROOT } from './virtual-path.js';
import type { StorageBackend, StorageContext, VPath } from './types.js';

export interface Usage {
  bytes: number;
  files: number;
}

/** How a ledger's retried writes are logged (usage.json and PostgreSQL alike). */
export const USAGE_RETRY_MESSAGES = {
  failing: 'quota usage not written yet: retrying',
  still: 'quota usage still not written: retrying',
  done: 'quota usage written after retries',
} as const;

/**
 * The warning for changes a ledger could not write before it closed (a full disk, the database
 * away): the store then counts less than was stored until `ferry users rescan` counts again.
 * `where` names the store (`file`, or nothing for the database).
 */
export function warnUnwritten(logger: Logger, pending: Iterable<[string, Usage]>, where: object = {}): void {
  const users: string[] = [];
  const lost = { bytes: 0, files: 0 };
  for (const [name, delta] of pending) {
    users.push(name);
    lost.bytes += delta.bytes;
    lost.files += delta.files;
  }
  if (users.length === 0) return;
  logger.warn(
    { ...where, users, ...lost },
    `quota usage not written at shutdown: ${lost.bytes} bytes and ${lost.files} files of ${users.length} users are missing from the ${'file' in where ? 'file' : 'database'} ('ferry users rescan' counts them again)`,
  );
}

/**
 * Where usage is kept (the server's: `<dataDir>/usage.json`). `add` changes a record that exists
 * and does nothing otherwise (a missing record is counted by a scan at its next use); `init`
 * stores a scanned usage unless a record appeared meanwhile.
 */
export interface UsageLedger {
  get(username: string): Promise<Usage | undefined>;
  init(username: string, usage: Usage): Promise<Usage>;
  /**
   * Never fails: a change it cannot write now is kept, counted by `get`, and retried until written
   * (the change is done by then, so its reply must not fail, and the quota must hold against it).
   */
  add(username: string, delta: Usage): Promise<void>;
  /** Drops the record: the next use counts again. */
  forget(username: string): Promise<void>;
  /**
   * Stores `to` in one step if the record (with what this process has not written yet) is still
   * `from` (undefined: none); false when it changed meanwhile. A recount stores its scan this way
   * (see recountUsage). With `from` 'any': stored whatever it is.
   */
  replace?(username: string, from: Usage | undefined | 'any', to: Usage): Promise<boolean>;
  /**
   * A ledger shared by several nodes (the database) has this: adds `delta` in one atomic step
   * unless the result would cross `limit` (its positive parts only); false when it would. Uploads
   * then charge their bytes as they arrive, so that nodes uploading for one user at once cannot
   * together pass the quota. When it would, `release` (what the refused upload holds) is given back
   * in that same step: a give-back written after the refusal would leave a moment in which the
   * other uploads in flight are refused for bytes no longer wanted (all of them refused at once).
   * While the ledger cannot be reached it keeps `delta`, to be written once it is back (once,
   * whatever became of this try: a hung database may still run it), and says yes.
   */
  charge?(
    username: string,
    delta: Usage,
    limit: { bytes?: number; files?: number },
    release?: Usage,
  ): Promise<boolean>;
}

/**
 * Charges an upload's bytes to a shared ledger in batches as they arrive, waiting for each batch to
 * be accepted before passing it on: the ledger never holds more than the quota, and what is not
 * charged yet is at most one batch per upload (the data in flight). `charge` says whether a batch
 * fits (while the ledger cannot be reached, it counts it for later and says yes: an outage stops no
 * upload). Once a batch is refused the rest is drained (see QuotaCap).
 */
export class SharedQuotaCap extends Transform {
  #unreported = 0;
  #exceeded = false;

  constructor(
    private readonly charge: (bytes: number) => Promise<boolean>,
    private readonly batch = 256 * 1024,
  ) {
    super();
  }

  /** The quota was crossed: whatever else ends the upload, 552 is its reply. */
  get exceeded(): boolean {
    return this.#exceeded;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.#exceeded) return done();
    this.#unreported += chunk.length;
    if (this.#unreported < this.batch) return done(null, chunk);
    this.#report().then(
      (ok) => done(null, ok ? chunk : undefined),
      (err: unknown) => done(err as Error),
    );
  }

  override _flush(done: TransformCallback): void {
    this.#report().then(
      (ok) => done(ok ? null : quotaExceeded('bytes')),
      (err: unknown) => done(err as Error),
    );
  }

  async #report(): Promise<boolean> {
    const n = this.#unreported;
    if (this.#exceeded) return false;
    if (n === 0) return true;
    this.#unreported = 0;
    const ok = await this.charge(n);
    if (!ok) this.#exceeded = true;
    return ok;
  }
}

/** The quota's refusal: which limit and its value (`allowed`), when the refusing code knows it. */
export const quotaExceeded = (what: 'bytes' | 'files', allowed?: number): QuotaError =>
  new QuotaError(
    allowed === undefined
      ? `Quota exceeded: ${what === 'bytes' ? 'storage size' : 'number of files'}.`
      : `Quota exceeded: ${allowed} ${what === 'bytes' ? 'bytes' : allowed === 1 ? 'file' : 'files'} allowed.`,
  );

/**
 * Counts every regular file under `dir` (links are not followed; upload temp files are not listed).
 * What the listings leave out for their paths' length is not counted: `c.tooLong` hears of it. A
 * directory below `dir` that cannot be read (or vanished meanwhile) counts nothing and `c.unreadable`
 * hears of it: one such directory in a home must not stop its user's uploads. Each batch listed
 * and each directory done is a step (`c.progress`).
 */
export async function scanUsage(
  storage: StorageBackend,
  c: StorageContext,
  dir: VPath = ROOT,
): Promise<Usage> {
  const total: Usage = { bytes: 0, files: 0 };
  const dirs: VPath[] = [dir];
  for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) {
    try {
      for await (const batch of storage.list(d, c)) {
        c.progress?.(); // a scan of a large home takes long: the command time limit sees it move
        for (const e of batch) {
          if (e.type === 'dir') dirs.push(e.path);
          else if (e.type === 'file') {
            total.bytes += e.size;
            total.files += 1;
          }
        }
      }
    } catch (err) {
      if (d === dir || !skippable(err)) throw err;
      c.unreadable?.(d, (err as Error).message);
    }
    c.progress?.(); // an empty directory lists no batch
  }
  return total;
}

const skippable = (err: unknown): boolean =>
  err instanceof StorageError && (err.kind === 'permission-denied' || err.kind === 'not-found');

/**
 * Passes bytes on while `admit(n)` says they fit. From the chunk that does not, the rest of the
 * upload is read and dropped, and the cap fails (552) at the end, as Pure-FTPd answers: a data
 * connection reset mid-upload makes lftp retry the upload over and over (each attempt progresses,
 * so its retry limit never comes) and curl report a send failure, where both stop at a 552.
 */
export class QuotaCap extends Transform {
  #exceeded = false;

  constructor(private readonly admit: (bytes: number) => boolean) {
    super();
  }

  /** The quota was crossed: whatever else ends the upload, 552 is its reply. */
  get exceeded(): boolean {
    return this.#exceeded;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.#exceeded && this.admit(chunk.length)) return done(null, chunk);
    this.#exceeded = true;
    done();
  }

  override _flush(done: TransformCallback): void {
    done(this.#exceeded ? quotaExceeded('bytes') : null);
  }
}

/** One upload in flight: what it adds to the user's usage so far. */
export interface Flight {
  /** The user's usage with every upload of theirs in flight in this process, this one included. */
  total(): Usage;
  grow(delta: Usage): void;
  /** Done (idempotent): `delta` is what it finally changed, when it completed. */
  end(delta?: Usage): void;
}

interface UserBook {
  ready: Promise<void>;
  usage: Usage;
  flights: Set<Usage>;
  /** The `progress` of each upload waiting for `ready`: all see the read (a scan) move. */
  waiting: Set<() => void>;
}

/**
 * The ledger of a process plus the uploads in flight, so that concurrent uploads of one user (in
 * this process) share the quota: each counts what the others have written so far. The recorded
 * usage is read when a user's first upload starts and followed in memory while any is in flight.
 */
export class QuotaBook {
  readonly #users = new Map<string, UserBook>();

  constructor(readonly ledger: UsageLedger) {}

  /**
   * Registers an upload; `read` gives the recorded usage when no other upload of the user runs,
   * telling `step` of its steps. Uploads that wait for that read hear of each step (`progress`,
   * their StorageContext's): the first upload's scan of a large home holds the others too.
   */
  async start(
    username: string,
    read: (step: () => void) => Promise<Usage>,
    progress?: () => void,
  ): Promise<Flight> {
    const known = this.#users.get(username);
    const b: UserBook = known ?? {
      ready: Promise.resolve(),
      usage: { bytes: 0, files: 0 },
      flights: new Set(),
      waiting: new Set(),
    };
    if (progress) b.waiting.add(progress);
    if (!known) {
      b.ready = read(() => b.waiting.forEach((p) => p())).then((u) => void (b.usage = { ...u }));
      this.#users.set(username, b);
    }
    const mine: Usage = { bytes: 0, files: 0 };
    b.flights.add(mine);
    let ended = false;
    const flight: Flight = {
      total: () => {
        const t = { ...b.usage };
        for (const f of b.flights) {
          t.bytes += f.bytes;
          t.files += f.files;
        }
        return t;
      },
      grow: (d) => {
        mine.bytes += d.bytes;
        mine.files += d.files;
      },
      end: (d) => {
        if (ended) return;
        ended = true;
        b.flights.delete(mine);
        if (d) this.adjust(username, d);
        if (b.flights.size === 0 && this.#users.get(username) === b) this.#users.delete(username);
      },
    };
    try {
      await b.ready;
    } catch (err) {
      flight.end();
      throw err;
    } finally {
      if (progress) b.waiting.delete(progress);
    }
    return flight;
  }

  /** A change made outside an upload (DELE, RNTO) while uploads are in flight. */
  adjust(username: string, d: Usage): void {
    const b = this.#users.get(username);
    if (!b) return;
    b.usage.bytes += d.bytes;
    b.usage.files += d.files;
  }
}
