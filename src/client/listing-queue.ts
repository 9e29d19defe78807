import { FerryError, ReplyError } from '../errors.js';
import type { FerryClient } from './client.js';
import { isTransient } from './errors.js';
import type { RemoteEntry } from './listing.js';
import type { RetriedConnection } from './retried-step.js';

/**
 * Directories listed over several connections at once (a mirror's remote tree): one listing is a
 * few round trips (EPSV, MLSD, the data connection's TLS handshake, 226), so one directory after
 * the other over one connection was 0.45 s each over an 80 ms link (51 directories: 20 s against
 * lftp's 11). The mirror's own connection lists first; once LIST_SPREAD_FROM directories wait, the
 * others (`helpers`: the mirror's --parallel connections, opened once for the whole run) are asked
 * for and each takes the next directory from the queue as it comes up. The caller gets each
 * directory's listing by its key, so what it builds from them does not depend on which came first.
 */

/** Directories waiting before the other connections are opened (each login costs round trips too). */
export const LIST_SPREAD_FROM = 4;

export interface ListingJob {
  /** The directory's key for the caller (a mirror's relative path). */
  readonly key: string;
  readonly dir: string;
  /** 1: the root, whose failure is the walk's. */
  readonly level: number;
}

/** A directory's listing, or the server's refusal of it (a subdirectory only). */
export type Listed = { readonly entries: RemoteEntry[] } | { readonly refused: ReplyError };

export interface ListingQueueOptions {
  readonly conn: RetriedConnection;
  readonly list: (client: FerryClient, dir: string) => Promise<RemoteEntry[]>;
  /** A listing on the mirror's connection is retried (its retry number and why). */
  readonly onRetry: (job: ListingJob, retry: number, error: unknown) => void;
  /** The directories to list below one just listed (called once per listing, in any order). */
  readonly children: (job: ListingJob, entries: RemoteEntry[]) => ListingJob[];
  /** The other connections, opened when first asked for (none: all on `conn`). */
  readonly helpers?: () => Promise<readonly FerryClient[]>;
}

/**
 * Lists `root` and what `children` names below it, over `conn` and the helpers; resolves to each
 * listing by key. Throws the root's failure, and the first other than a server's refusal (a lost
 * connection once `conn`'s retries are spent, an abort) once no listing is in flight.
 */
export async function listTree(root: ListingJob, o: ListingQueueOptions): Promise<Map<string, Listed>> {
  const listed = new Map<string, Listed>();
  const queue: ListingJob[] = [root];
  // Jobs a helper could not list (a lost connection, a transient reply): the mirror's connection,
  // with its retries and reconnects, lists them as it listed everything before.
  const ownQueue: ListingJob[] = [];
  let inFlight = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void)[] = [];
  const changed = (): void => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const next = async (own: boolean): Promise<ListingJob | undefined> => {
    for (;;) {
      if (failure) return undefined;
      const job = (own ? ownQueue.shift() : undefined) ?? queue.shift();
      if (job) {
        inFlight++;
        return job;
      }
      if (inFlight === 0 && ownQueue.length === 0) return undefined;
      await new Promise<void>((resolve) => wake.push(resolve));
    }
  };
  const finished = (job: ListingJob, result: Listed): void => {
    listed.set(job.key, result);
    if ('entries' in result) queue.push(...o.children(job, result.entries));
  };
  const workers: Promise<void>[] = [];
  let helpersAsked = false;
  const askHelpers = (): void => {
    if (helpersAsked || !o.helpers || queue.length < LIST_SPREAD_FROM) return;
    helpersAsked = true;
    // Not waited for: logins that end after the last listing leave the walk as it is (the
    // connections are the mirror's, for its later steps).
    o.helpers().then(
      (clients) => workers.push(...clients.map((c) => helper(c))),
      () => undefined, // none opened: the mirror's connection lists alone
    );
  };

  const own = async (): Promise<void> => {
    for (let job = await next(true); job; job = await next(true)) {
      const j = job;
      try {
        const entries = await o.conn.run(
          (client) => o.list(client, j.dir),
          (retry, error) => o.onRetry(j, retry, error),
        );
        finished(j, { entries });
      } catch (err) {
        if (j.level === 1 || !(err instanceof ReplyError)) failure ??= { error: err };
        else finished(j, { refused: err });
      }
      inFlight--;
      askHelpers();
      changed();
    }
  };
  const helper = async (client: FerryClient): Promise<void> => {
    for (let job = await next(false); job; job = await next(false)) {
      try {
        finished(job, { entries: await o.list(client, job.dir) });
      } catch (err) {
        // A bound the walk passed (children's ERR_LIMIT) ends it, as on the mirror's connection.
        if (err instanceof FerryError && !(err instanceof ReplyError) && err.code === 'ERR_LIMIT')
          failure ??= { error: err };
        else if (err instanceof ReplyError && !isTransient(err)) finished(job, { refused: err });
        else ownQueue.push(job);
      }
      inFlight--;
      changed();
      if (client.closed) return;
    }
  };

  workers.push(own());
  // Helpers join while the others run: wait for those that joined before the last listing ended.
  for (let done = 0; done < workers.length;) {
    const joined = workers.slice(done);
    done += joined.length;
    await Promise.all(joined);
  }
  if (failure) throw failure.error;
  return listed;
}
