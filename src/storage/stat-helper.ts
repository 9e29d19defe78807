// A second thread for a listing's lstat calls. The kernel's cost per call (~3.4 µs on the development
// VM) is most of a large listing's time, and one thread makes them one after the other: with the
// helper, both threads take the names of each batch in turn, so a 10,000-entry listing's lstat's
// take both cores for ~20 ms instead of one for ~40.
import { lstatSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { StatLike } from './listing-stat.js';

/** ctl[]: the job's state, and its parameters. */
export const STATE = 0;
export const NAMES_BYTES = 1;
export const COUNT = 2;
/** Calls slower than this many µs count as slow (negative: all of them). */
export const SLOW_US = 3;
/** Set by the helper: how many of its calls were slow. */
export const SLOW = 4;
/** The index of the next name to lstat, taken by either thread with Atomics.add. */
export const NEXT = 5;
export const CTL_LENGTH = 6;

/**
 * A job goes IDLE → JOB (posted) → ACTIVE (the helper took it up) → DONE, or JOB → CANCELLED (the
 * calling thread did every name before the helper woke), then back to IDLE.
 */
export const IDLE = 0;
export const JOB = 1;
export const ACTIVE = 2;
export const DONE = 3;
export const CANCELLED = 4;

/** out[]: per name, FIELDS numbers: the status, then the lstat's. */
export const FIELDS = 6;
export const OK = 0;
export const GONE = 1;
/** Any other failure: the calling thread makes the call again, to throw the error as lstatSync does. */
export const FAILED = 2;

/** The buffers the two threads share. */
export interface SharedJob {
  ctl: Int32Array;
  /** The prefix, then each name, NUL-separated, UTF-8 (a Buffer on shared memory). */
  text: Buffer;
  out: Float64Array;
}

/** Most names in one call (a listing batch is 256); more are lstat'ed by the calling thread alone. */
const MAX_NAMES = 1024;
/** NAME_MAX, and its NUL. */
const MAX_NAME_BYTES = 256;
/** The names, and the prefix (a magic link) once. */
const NAMES_CAPACITY = MAX_NAMES * MAX_NAME_BYTES + 4096;
/** How long a thread that waits for the other spins before it sleeps. */
export const SPIN_MS = 1;
/** Fewer names than this are not worth a round trip to the helper. */
const MIN_SPLIT = 32;
/**
 * A helper unused this long is stopped (its thread costs ~13 MB of RSS); the next large listing
 * starts it again, and gains little itself (the thread takes ~60 ms to start).
 */
const IDLE_MS = 10 * 60_000;
/** The longest the calling thread waits for the helper's call in flight (never expected): then it is given up. */
const WAIT_LIMIT_MS = 30_000;
const NO_THROW = { throwIfNoEntry: false } as const;

export interface StatHelperOptions {
  idleMs?: number;
}

export interface SplitStats {
  /** Per name: its lstat, or undefined where it no longer exists. */
  stats: (StatLike | undefined)[];
  /** Calls slower than `slowMs`, on both threads. */
  slow: number;
}

/**
 * Owns at most one worker thread, started by `start()` (a listing that needs a second batch) and
 * stopped once unused for IDLE_MS since it was ready, or by `close()`. `lstatAll` is synchronous:
 * the names are lstat'ed relative to the working directory or under the prefix the caller holds,
 * and the caller keeps the working directory until it returns (the helper is done by then). Until
 * the helper is ready, and after any trouble with it, the calling thread does it all: the results
 * are the same.
 */
export class StatHelper {
  readonly #idleMs: number;
  #worker: Worker | undefined;
  #job: SharedJob | undefined;
  #ready = false;
  #closed = false;
  #idle: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Names the helper thread has answered (for tests and curiosity). */
  helped = 0;

  constructor(options: StatHelperOptions = {}) {
    this.#idleMs = options.idleMs ?? IDLE_MS;
  }

  /** Whether a helper thread is ready to take part in the next call. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Starts the helper thread, if not running; resolves once it is ready (or failed to start). */
  start(): Promise<void> {
    // With one core the two halves would take turns: nothing gained.
    if (this.#closed || availableParallelism() < 2) return Promise.resolve();
    if (this.#started) return this.#started;
    const job: SharedJob = {
      ctl: new Int32Array(new SharedArrayBuffer(CTL_LENGTH * 4)),
      text: Buffer.from(new SharedArrayBuffer(NAMES_CAPACITY)),
      out: new Float64Array(new SharedArrayBuffer(MAX_NAMES * FIELDS * 8)),
    };
    const worker = new Worker(new URL('./stat-worker.js', import.meta.url), { workerData: job });
    worker.unref(); // never what keeps a process alive
    this.#worker = worker;
    this.#job = job;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    this.#started = new Promise<void>((resolve) => {
      worker.once('message', () => {
        if (this.#worker === worker) {
          this.#ready = true;
          this.#idle = setTimeout(() => void this.#stop(), this.#idleMs);
          this.#idle.unref();
        }
        resolve();
      });
      // A helper that cannot start (or fails) leaves the work to the calling thread.
      worker.once('error', () => {
        this.#forget(worker);
        resolve();
      });
      worker.once('exit', () => {
        this.#forget(worker);
        resolve();
      });
    });
    return this.#started;
  }

  /** Resolves once the current helper thread (if any) has exited. */
  exited(): Promise<void> {
    return this.#exited;
  }

  /** Stops the helper thread for good; later calls are served by the calling thread. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#stop();
  }

  /**
   * lstat's each of `names` (without following it) at `prefix` + name: '' for the working
   * directory, which the caller must keep until this returns. Throws what lstatSync would throw
   * for a name that fails otherwise than by not existing.
   *
   * Both threads take the next name from one shared counter until none is left, so each does as
   * many as its speed allows (the helper's calls are slower while V8 compiles on the same cores, or
   * when it is preempted). A helper that has not taken the job up by the time the calling thread
   * has done every name is told not to; one that has is waited for (at most its call in flight).
   */
  lstatAll(names: readonly string[], prefix: string, slowMs: number): SplitStats {
    const n = names.length;
    const stats: (StatLike | undefined)[] = new Array<StatLike | undefined>(n);
    let slow = 0;
    let before = performance.now();
    const one = (i: number): void => {
      stats[i] = lstatSync(prefix + (names[i] as string), NO_THROW);
      const after = performance.now();
      if (after - before > slowMs) slow++;
      before = after;
    };
    const job = this.#job;
    if (!this.#ready || !job || n < MIN_SPLIT || !post(job, names, prefix, slowMs)) {
      for (let i = 0; i < n; i++) one(i);
      return { stats, slow };
    }
    this.#idle?.refresh();
    const { ctl, out } = job;
    const mine = new Uint8Array(n);
    let answered: boolean;
    try {
      for (let i = Atomics.add(ctl, NEXT, 1); i < n; i = Atomics.add(ctl, NEXT, 1)) {
        mine[i] = 1;
        one(i);
      }
    } finally {
      // Whatever happened here, the helper is done with the working directory (and the shared
      // buffers) before the caller goes on: it never started, or it has finished.
      answered =
        Atomics.compareExchange(ctl, STATE, JOB, CANCELLED) === JOB || waitWhile(ctl, ACTIVE, WAIT_LIMIT_MS);
    }
    if (!answered) {
      this.#broken();
      for (let i = 0; i < n; i++) if (!mine[i]) one(i);
      return { stats, slow };
    }
    let helped = 0;
    for (let i = 0; i < n; i++) {
      if (mine[i]) continue;
      helped++;
      const k = i * FIELDS;
      const status = out[k];
      if (status === OK) {
        stats[i] = {
          mode: out[k + 1] as number,
          size: out[k + 2] as number,
          mtime: new Date(Math.round(out[k + 3] as number)), // as fs.Stats makes it
          ino: out[k + 4] as number,
          dev: out[k + 5] as number,
        };
      } else if (status === GONE) stats[i] = undefined;
      else one(i); // throws the real error
    }
    if (helped > 0) slow += ctl[SLOW] as number;
    Atomics.store(ctl, STATE, IDLE);
    this.helped += helped;
    return { stats, slow };
  }

  #forget(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#job = undefined;
    this.#ready = false;
    this.#started = undefined;
    clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  /** The helper did not answer in time: never use it again (it may still be in a call). */
  #broken(): void {
    this.#closed = true;
    void this.#stop();
  }

  async #stop(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    this.#forget(worker);
    await worker.terminate();
  }
}

/** Offers the job to the helper; false if the names do not fit the shared buffer. */
function post(job: SharedJob, names: readonly string[], prefix: string, slowMs: number): boolean {
  const { ctl, text } = job;
  if (names.length > MAX_NAMES) return false;
  let at = text.write(prefix);
  text[at++] = 0;
  for (const name of names) {
    if (at + MAX_NAME_BYTES > text.length) return false;
    at += text.write(name, at);
    text[at++] = 0;
  }
  ctl[NAMES_BYTES] = at;
  ctl[COUNT] = names.length;
  ctl[SLOW_US] = Math.round(slowMs * 1000);
  ctl[SLOW] = 0;
  ctl[NEXT] = 0;
  Atomics.store(ctl, STATE, JOB);
  Atomics.notify(ctl, STATE);
  return true;
}

/**
 * Waits until `ctl[STATE]` is no longer `state`, spinning for up to SPIN_MS first: waking a
 * sleeping thread costs more here (~0.3 ms, a virtual CPU to wake) than a listing batch's wait.
 * False if it did not change within `limitMs`.
 */
export function waitWhile(ctl: Int32Array, state: number, limitMs: number): boolean {
  const now = performance.now();
  const spinUntil = now + SPIN_MS;
  const deadline = now + limitMs;
  for (;;) {
    if (Atomics.load(ctl, STATE) !== state) return true;
    const t = performance.now();
    if (t >= deadline) return false;
    if (t >= spinUntil) Atomics.wait(ctl, STATE, state, deadline - t);
  }
}

/** What the helper writes for one name. */
export function record(out: Float64Array, k: number, st: Stats | undefined): void {
  if (st === undefined) {
    out[k] = GONE;
    return;
  }
  out[k] = OK;
  out[k + 1] = st.mode;
  out[k + 2] = st.size;
  out[k + 3] = st.mtimeMs;
  out[k + 4] = st.ino;
  out[k + 5] = st.dev;
}
