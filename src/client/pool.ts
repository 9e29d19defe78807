import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError, ReplyError } from '../errors.js';
import { Code } from '../protocol/codes.js';
import type { FerryClient } from './client.js';
import { ConnectionError, failureKind, isTransient, LoginError, ServerClosingError } from './errors.js';

/**
 * Jobs over several connections at once (`--parallel N` of mirror, get and put): the given client
 * plus N-1 more from `connect`, each taking the next job from one queue. The extra connections are
 * closed at the end. A connection that fails to open is done without (the others carry its share).
 * With `retries`, a job that fails transiently is tried again after a short growing pause; a worker
 * whose connection was lost (closed, reset, a 421) opens a new one, after 1 s, 2 s, 4 s … as lftp's
 * reconnect interval, up to `retries` times (at least MIN_RECONNECTS, about 30 s, while refused: a
 * server restarting refuses connections for a while), and goes on with its job and the queue.
 * Without retries, a worker whose connection closed takes no further job.
 */

/** Connections opened at once (a server's per-address limit on those not logged in is higher). */
const CONNECT_WAVE = 4;

/** The pause before retry n (1, 2, …) over the same connection: short and growing (retryPause). */
const RETRY_PAUSE_MS = 250;

/**
 * Waits before retry `retry` (1, 2, …) of a step over the same connection, the pool's and a
 * command's own (retried-step.ts) alike. Rejects when `signal` aborts.
 */
export function retryPause(retry: number, signal?: AbortSignal): Promise<void> {
  return sleep(RETRY_PAUSE_MS * retry, undefined, { signal });
}

/** The pause before reconnect attempt n (1, 2, …): doubles from this, up to RECONNECT_PAUSE_MAX_MS. */
export const RECONNECT_PAUSE_MS = 1000;
const RECONNECT_PAUSE_MAX_MS = 30_000;

/**
 * The fewest attempts to open a lost connection again while the server takes no connections
 * (refused: restarting), whatever `retries` (at least 1) says: their pauses (1 + 2 + 4 + 8 + 16 s)
 * outlast a restart of about 30 s (a node start-up, a service manager's restart delay), where
 * `--retry 2`'s own two gave up after 3 s. Other failures (no greeting within the timeout, which
 * took its own time) count against `retries` alone.
 */
export const MIN_RECONNECTS = 5;

/**
 * Whether a failure to connect says the server is away for now: refused, reset, a 421 greeting
 * (not one saying there are too many connections: that is no restart to wait out).
 */
function serverAway(err: unknown): boolean {
  if (err instanceof ServerClosingError) return err.refusal === undefined;
  if (err instanceof ReplyError) return err.replyCode === Code.ServiceNotAvailable;
  return err instanceof ConnectionError && err.code === 'ERR_CONNECT' && isTransient(err);
}

/** A worker is about to open a new connection (after `pauseMs`): attempt `attempt` of `attempts`. */
export interface Reconnect {
  readonly attempt: number;
  /**
   * The most attempts, the same for each of one reconnect: `retries`, at least MIN_RECONNECTS (a
   * failure other than a refusal ends them once `retries` are spent).
   */
  readonly attempts: number;
  readonly pauseMs: number;
  /** Why: the lost connection's failure, or the previous attempt's. */
  readonly error: unknown;
}

export interface PoolOptions<J> {
  /** Connections at once, the given one included (default 1); never more than there are jobs. */
  readonly parallel?: number;
  /** Opens another connection like the given one; needed when `parallel` > 1. */
  readonly connect?: () => Promise<FerryClient>;
  /**
   * Connections already open to use (up to `parallel` - 1) instead of opening new ones: the
   * caller's to close (a mirror's, from its plan to its transfers).
   */
  readonly opened?: readonly FerryClient[];
  /** Go on with the other jobs after a failure (default: stop taking jobs at the first one). */
  readonly keepGoing?: boolean;
  readonly signal?: AbortSignal;
  /** An extra connection could not be opened (the pool goes on with fewer). */
  readonly onConnectError?: (err: unknown) => void;
  /** Times a job is tried again after a failure `transient` accepts (default 0); also reconnects. */
  readonly retries?: number;
  /** Whether a failure (of a job, or of a reconnect) is worth another try (without it, none is). */
  readonly transient?: (err: unknown) => boolean;
  /** A job is about to be tried again: its retry number (1-based) and the failure. */
  readonly onRetry?: (job: J, retry: number, err: unknown) => void;
  /** A worker whose connection was lost is about to open a new one. */
  readonly onReconnect?: (r: Reconnect) => void;
  /** A job failed for good (not called for jobs left when every connection closed). */
  readonly onFailure?: (job: J, err: unknown) => void;
}

export interface PoolFailure<J> {
  readonly job: J;
  readonly error: unknown;
}

/**
 * The jobs never tried because every connection was lost and none could be opened again (retries
 * spent, or none): not failures of their own, one cause for them all.
 */
export interface PoolUnsent<J> {
  readonly jobs: readonly J[];
  /** Why the last connection was given up. */
  readonly error: unknown;
}

export interface PoolOutcome<J> {
  /** The jobs tried that failed, in the order they did. */
  readonly failures: PoolFailure<J>[];
  /** Undefined when every job was tried (or the queue was stopped: an abort, no `keepGoing`). */
  readonly unsent: PoolUnsent<J> | undefined;
}

/**
 * Runs `run(worker, job)` for every job and returns the failures (in the order they happened).
 * Without `keepGoing`, the first failure stops the queue: the jobs left are not run or reported.
 * Jobs left when every connection has closed (or could not be opened again) are `unsent`, with the
 * reason of the last one.
 */
export async function runPool<J>(
  client: FerryClient,
  jobs: readonly J[],
  o: PoolOptions<J>,
  run: (worker: FerryClient, job: J, attempt: number) => Promise<void>,
): Promise<PoolOutcome<J>> {
  const parallel = Math.max(1, Math.min(o.parallel ?? 1, jobs.length));
  const connect = o.connect;
  if (parallel > 1 && !connect) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      'options.connect: parallel transfers need a way to open connections.',
    );
  }
  const retries = o.retries ?? 0;
  const transient = (err: unknown): boolean => !o.signal?.aborted && (o.transient?.(err) ?? false);
  /** Every connection used, the given one first (the others are the pool's to close). */
  const workers: FerryClient[] = [client];
  const failures: PoolFailure<J>[] = [];
  // New connections are opened one at a time, and once a login was refused (the password changed
  // while the server restarted) none tries again with the same credentials: each failed login
  // scores against this address on a server with a defender or fail2ban.
  let refusedLogin: LoginError | undefined;
  let opening: Promise<unknown> = Promise.resolve();
  const openOne = (open: () => Promise<FerryClient>): Promise<FerryClient> => {
    const opened = opening.then(() => {
      if (refusedLogin) throw refusedLogin;
      return open();
    });
    opening = opened.catch((err: unknown) => {
      if (err instanceof LoginError) refusedLogin = err;
    });
    return opened;
  };
  const reconnect = async (open: () => Promise<FerryClient>, lost: unknown): Promise<FerryClient> => {
    const opened = await reopen(() => openOne(open), lost, o);
    workers.push(opened);
    return opened;
  };
  try {
    if (o.opened) workers.push(...o.opened.filter((w) => !w.closed).slice(0, parallel - 1));
    else if (connect) workers.push(...(await openInWaves(connect, parallel - 1, o)));
    const queue = [...jobs];
    let stop = false;
    let lastClosed: unknown;
    const fail = (job: J, error: unknown): void => {
      failures.push({ job, error });
      o.onFailure?.(job, error);
      if (!o.keepGoing || o.signal?.aborted) stop = true;
    };
    await Promise.all(
      workers.map(async (first) => {
        let w = first;
        for (let job = queue.shift(); job !== undefined && !stop; job = queue.shift()) {
          for (let attempt = 0; ; attempt++) {
            let error: unknown;
            try {
              await run(w, job, attempt);
              break;
            } catch (err) {
              error = err;
            }
            // A lost control connection (or one whose state after a timeout or 421 is unknown) is
            // replaced, with retries: for this job's next try, else for the jobs still queued.
            const lost = w.closed || failureKind(error) === 'connection';
            const canReconnect = lost && connect !== undefined && retries > 0;
            const again = attempt < retries && transient(error) && (!lost || canReconnect);
            if (again) o.onRetry?.(job, attempt + 1, error);
            else fail(job, error);
            if (canReconnect && (again || (!stop && queue.length > 0))) {
              try {
                if (w !== client) await w.close();
                w = await reconnect(connect, error);
              } catch (err) {
                if (o.signal?.aborted) stop = true;
                if (again) fail(job, o.signal?.aborted ? error : err);
                lastClosed = err;
                return;
              }
            } else if (again) {
              try {
                await retryPause(attempt + 1, o.signal);
              } catch {
                fail(job, error);
                break;
              }
            } else if (w.closed) {
              lastClosed = w.closedReason ?? error;
              return;
            }
            if (!again) break;
          }
        }
      }),
    );
    const unsent = !stop && queue.length > 0 ? { jobs: queue, error: lastClosed } : undefined;
    return { failures, unsent };
  } finally {
    const theirs = new Set(o.opened);
    await Promise.all(workers.filter((w) => w !== client && !theirs.has(w)).map((w) => w.close()));
  }
}

/**
 * A connection in place of one that was lost (`lost`: why): with `retries`, opened after a growing
 * pause (1 s, 2 s, 4 s … up to 30 s), tried that many times while it fails transiently (refused,
 * reset, timed out, a 421 greeting: a server restarting), and while refused at least
 * MIN_RECONNECTS times; without, opened once at once. Throws the last failure.
 */
export async function reopen(
  open: () => Promise<FerryClient>,
  lost: unknown,
  o: Pick<PoolOptions<never>, 'retries' | 'transient' | 'signal' | 'onReconnect'>,
): Promise<FerryClient> {
  const retries = o.retries ?? 0;
  if (retries < 1) return open();
  // Said once, the same in each event (it said `1 of 2`, then `2 of 5` once refused): the most
  // there can be; only refusals reach it.
  const attempts = Math.max(retries, MIN_RECONNECTS);
  for (let attempt = 1, error = lost; ; attempt++) {
    const pauseMs = Math.min(RECONNECT_PAUSE_MS * 2 ** (attempt - 1), RECONNECT_PAUSE_MAX_MS);
    o.onReconnect?.({ attempt, attempts, pauseMs, error });
    await sleep(pauseMs, undefined, { signal: o.signal });
    try {
      return await open();
    } catch (err) {
      const spent = attempt >= (serverAway(err) ? attempts : retries);
      if (spent || o.signal?.aborted || !(o.transient?.(err) ?? false)) throw err;
      error = err;
    }
  }
}

/**
 * Opens `n` connections in waves of CONNECT_WAVE, each logged in before the next: a server counts
 * the connections not yet logged in per address (Ferry: 16) and scores refusals, so all at once a
 * large --parallel got the client banned. A wave with a failure (a session limit reached) ends it:
 * the pool goes on with fewer.
 */
export async function openInWaves(
  connect: () => Promise<FerryClient>,
  n: number,
  o: Pick<PoolOptions<never>, 'signal' | 'onConnectError'>,
): Promise<FerryClient[]> {
  const opened: FerryClient[] = [];
  for (let left = n; left > 0 && !o.signal?.aborted;) {
    const wave = Math.min(left, CONNECT_WAVE);
    left -= wave;
    const results = await Promise.allSettled(Array.from({ length: wave }, () => connect()));
    for (const r of results) {
      if (r.status === 'fulfilled') opened.push(r.value);
      else o.onConnectError?.(r.reason);
    }
    if (results.some((r) => r.status === 'rejected')) break;
  }
  return opened;
}
