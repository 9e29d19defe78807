import { setTimeout as sleep } from 'node:timers/promises';
import { FerryError } from '../errors.js';
import type { FerryClient } from './client.js';
import { failureKind } from './errors.js';

/**
 * Jobs over several connections at once (`--parallel N` of mirror, get and put): the given client
 * plus N-1 more from `connect`, each taking the next job from one queue. The extra connections are
 * closed at the end. A connection that fails to open is done without (the others carry its share);
 * one that closes during a job takes no further job. With `retries`, a job that fails transiently is
 * tried again after a short growing pause, over a new connection when its own was lost.
 */

/** Connections opened at once (a server's per-address limit on those not logged in is higher). */
const CONNECT_WAVE = 4;

/** The pause before retry n (1, 2, …): short and growing, as lftp's reconnect interval. */
export const RETRY_PAUSE_MS = 250;

export interface PoolOptions<J> {
  /** Connections at once, the given one included (default 1); never more than there are jobs. */
  readonly parallel?: number;
  /** Opens another connection like the given one; needed when `parallel` > 1. */
  readonly connect?: () => Promise<FerryClient>;
  /** Go on with the other jobs after a failure (default: stop taking jobs at the first one). */
  readonly keepGoing?: boolean;
  readonly signal?: AbortSignal;
  /** An extra connection could not be opened (the pool goes on with fewer). */
  readonly onConnectError?: (err: unknown) => void;
  /** Times a job is tried again after a failure `transient` accepts (default 0). */
  readonly retries?: number;
  /** Whether a failure is worth another try (without it, none is). */
  readonly transient?: (err: unknown) => boolean;
  /** A job is about to be tried again: its retry number (1-based) and the failure. */
  readonly onRetry?: (job: J, retry: number, err: unknown) => void;
  /** A job failed for good (not called for jobs left when every connection closed). */
  readonly onFailure?: (job: J, err: unknown) => void;
}

/** A worker's connection, replaced when a retry needs a new one. */
interface Ref {
  client: FerryClient;
}

export interface PoolFailure<J> {
  readonly job: J;
  readonly error: unknown;
}

/**
 * Runs `run(worker, job)` for every job and returns the failures (in the order they happened).
 * Without `keepGoing`, the first failure stops the queue: the jobs left are not run or reported.
 * Jobs left when every connection has closed are reported with the reason of the last one.
 */
export async function runPool<J>(
  client: FerryClient,
  jobs: readonly J[],
  o: PoolOptions<J>,
  run: (worker: FerryClient, job: J, attempt: number) => Promise<void>,
): Promise<PoolFailure<J>[]> {
  const parallel = Math.max(1, Math.min(o.parallel ?? 1, jobs.length));
  const connect = o.connect;
  if (parallel > 1 && !connect) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      'options.connect: parallel transfers need a way to open connections.',
    );
  }
  /** Every connection used, the given one first (the others are the pool's to close). */
  const workers: FerryClient[] = [client];
  const failures: PoolFailure<J>[] = [];
  try {
    if (connect) workers.push(...(await openInWaves(connect, parallel - 1, o)));
    const queue = [...jobs];
    let stop = false;
    let lastClosed: unknown;
    // The job's failure, or undefined when it is worth another try on `w` (now usable again).
    const retry = async (w: Ref, job: J, attempt: number, error: unknown): Promise<unknown> => {
      if (attempt >= (o.retries ?? 0) || o.signal?.aborted || !(o.transient?.(error) ?? false)) return error;
      // A lost control connection (or one whose state after a timeout or 421 is unknown) is replaced.
      const replace = w.client.closed || failureKind(error) === 'connection';
      if (replace && !connect) return error;
      o.onRetry?.(job, attempt + 1, error);
      try {
        await sleep(RETRY_PAUSE_MS * (attempt + 1), undefined, { signal: o.signal });
        if (replace) {
          if (w.client !== client) await w.client.close();
          w.client = await (connect as () => Promise<FerryClient>)();
          workers.push(w.client);
        }
        return undefined;
      } catch (err) {
        return o.signal?.aborted ? error : err;
      }
    };
    await Promise.all(
      workers.map(async (first) => {
        const w: Ref = { client: first };
        for (let job = queue.shift(); job !== undefined && !stop; job = queue.shift()) {
          for (let attempt = 0; ; attempt++) {
            let error: unknown;
            try {
              await run(w.client, job, attempt);
              break;
            } catch (err) {
              error = await retry(w, job, attempt, err);
            }
            if (error === undefined) continue;
            failures.push({ job, error });
            o.onFailure?.(job, error);
            if (!o.keepGoing || o.signal?.aborted) stop = true;
            if (w.client.closed) {
              lastClosed = w.client.closedReason ?? error;
              return;
            }
            break;
          }
        }
      }),
    );
    if (!stop) for (const job of queue) failures.push({ job, error: lastClosed });
  } finally {
    await Promise.all(workers.filter((w) => w !== client).map((w) => w.close()));
  }
  return failures;
}

/**
 * Opens `n` connections in waves of CONNECT_WAVE, each logged in before the next: a server counts
 * the connections not yet logged in per address (Ferry: 16) and scores refusals, so all at once a
 * large --parallel got the client banned. A wave with a failure (a session limit reached) ends it:
 * the pool goes on with fewer.
 */
async function openInWaves(
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
