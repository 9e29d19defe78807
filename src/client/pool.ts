import { FerryError } from '../errors.js';
import type { FerryClient } from './client.js';

/**
 * Jobs over several connections at once (`--parallel N` of mirror, get and put): the given client
 * plus N-1 more from `connect`, each taking the next job from one queue. The extra connections are
 * closed at the end. A connection that fails to open is done without (the others carry its share);
 * one that closes during a job takes no further job.
 */

/** Connections opened at once (a server's per-address limit on those not logged in is higher). */
const CONNECT_WAVE = 4;

export interface PoolOptions {
  /** Connections at once, the given one included (default 1); never more than there are jobs. */
  readonly parallel?: number;
  /** Opens another connection like the given one; needed when `parallel` > 1. */
  readonly connect?: () => Promise<FerryClient>;
  /** Go on with the other jobs after a failure (default: stop taking jobs at the first one). */
  readonly keepGoing?: boolean;
  readonly signal?: AbortSignal;
  /** An extra connection could not be opened (the pool goes on with fewer). */
  readonly onConnectError?: (err: unknown) => void;
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
  o: PoolOptions,
  run: (worker: FerryClient, job: J) => Promise<void>,
): Promise<PoolFailure<J>[]> {
  const parallel = Math.max(1, Math.min(o.parallel ?? 1, jobs.length));
  const connect = o.connect;
  if (parallel > 1 && !connect) {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      'options.connect: parallel transfers need a way to open connections.',
    );
  }
  const workers: FerryClient[] = [client];
  const failures: PoolFailure<J>[] = [];
  try {
    if (connect) workers.push(...(await openInWaves(connect, parallel - 1, o)));
    const queue = [...jobs];
    let stop = false;
    let lastClosed: unknown;
    await Promise.all(
      workers.map(async (w) => {
        for (let job = queue.shift(); job !== undefined && !stop; job = queue.shift()) {
          try {
            await run(w, job);
          } catch (error) {
            failures.push({ job, error });
            if (!o.keepGoing || o.signal?.aborted) stop = true;
            if (w.closed) {
              lastClosed = w.closedReason ?? error;
              return;
            }
          }
        }
      }),
    );
    if (!stop) for (const job of queue) failures.push({ job, error: lastClosed });
  } finally {
    await Promise.all(workers.slice(1).map((w) => w.close()));
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
  o: PoolOptions,
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
