import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, ReplyError } from '../errors.js';
import type { FerryClient } from './client.js';
import { abortedError, IncompleteListingError, isTransient } from './errors.js';
import type { Progress } from './files.js';
import { fsPath } from './local-file.js';
import { decodeBytes } from '../protocol/byte-text.js';
import { globMatcher, hasWildcard, matchesHidden, unquote } from '../protocol/glob.js';
import { runPool, type PoolFailure, type PoolUnsent, type Reconnect } from './pool.js';
import { CHANGED_ON_SERVER, RetriedDownloads } from './retried-download.js';
import { joinRemote, remoteBasename, remoteDirname } from './url.js';

/**
 * Several files in one go, as `ferry get` and `ferry put` do with several sources or a pattern
 * (mget/mput): patterns in the last path segment are expanded against the server's listing (MLSD,
 * else LIST, else NLST) or a local directory; the files then travel over `parallel` connections
 * (pool.ts), each failure is recorded and the others go on.
 */

export interface BatchJob {
  /** The remote path (source of a download, target of an upload). */
  readonly remote: string;
  /** The local path (target of a download, source of an upload). */
  readonly local: string;
  /** The size, when known before the transfer (listing or local stat). */
  readonly size: number | undefined;
}

export interface RemoteMatch {
  readonly path: string;
  readonly name: string;
  readonly size: number | undefined;
}

/**
 * A name from a server that is safe as a file name in a local directory: no path (no `/`, nor the
 * local separator: `\` on Windows, a plain character elsewhere), not `.` or
 * `..`, no NUL.
 */
export function safeLocalName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !name.includes(path.sep) &&
    !name.includes('\0')
  );
}

/** The names of a remote directory with their type and size: MLSD or LIST, else NLST (names only). */
async function remoteNames(
  client: FerryClient,
  dir: string,
  signal: AbortSignal | undefined,
  all: boolean,
): Promise<{ name: string; type: string | undefined; size: number | undefined }[]> {
  try {
    return (await client.list(dir, { signal, all, directory: true })).map((e) => ({
      name: e.name,
      type: e.type,
      size: e.size ?? undefined,
    }));
  } catch (err) {
    // A listing the server cut or could not read: NLST would be no better.
    if (!(err instanceof ReplyError) || err instanceof IncompleteListingError) throw err;
    // Some servers refuse LIST of a directory yet answer NLST (and some NLST give paths: keep the name).
    const text = await client.listRaw(dir, 'NLST', { signal }).catch(() => {
      throw err;
    });
    return text
      .split(/\r?\n/)
      .filter((l) => l !== '')
      .map((l) => ({ name: remoteBasename(l), type: undefined, size: undefined }));
  }
}

/**
 * The remote files a path names: itself when its last segment has no wildcard, else the files
 * (and links) of its directory that match, sorted by name. A pattern that matches nothing throws
 * ERR_NOT_FOUND naming it.
 */
export async function expandRemote(
  client: FerryClient,
  pattern: string,
  signal?: AbortSignal,
): Promise<RemoteMatch[]> {
  const last = remoteBasename(pattern);
  if (!hasWildcard(last)) {
    // `x\[1\].gz` names `x[1].gz` (quoted so that it is no pattern); other backslashes stay.
    const name = unquote(last);
    return [{ path: joinRemote(remoteDirname(pattern), name), name, size: undefined }];
  }
  const dir = remoteDirname(pattern);
  const match = globMatcher(last);
  // LIST -a (dot-files) only for a pattern that can match them.
  const found = (await remoteNames(client, dir, signal, matchesHidden(last)))
    .filter((e) => e.type !== 'dir' && match(e.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => ({ path: joinRemote(dir, e.name), name: e.name, size: e.size }));
  if (found.length === 0) throw new FerryError('ERR_NOT_FOUND', `No remote file matches ${pattern}.`);
  return found;
}

/** A local "not found" error (exit code: local file). */
function noLocalMatch(pattern: string): Error {
  return Object.assign(new Error(`no file matches ${pattern}`), { code: 'ENOENT' });
}

/**
 * The local files a path names: itself when it exists or has no wildcard in its last segment,
 * else the regular files of its directory that match, sorted by name (a shell expands unquoted
 * patterns itself; this is for quoted ones). A pattern that matches nothing throws ENOENT.
 */
export async function expandLocal(pattern: string): Promise<string[]> {
  const exists = await stat(pattern).then(
    () => true,
    () => false,
  );
  const last = path.basename(pattern);
  if (exists) return [pattern];
  if (!hasWildcard(last)) return [path.join(path.dirname(pattern), unquote(last))];
  const dir = path.dirname(pattern);
  const match = globMatcher(last);
  // Names as bytes: one that is not UTF-8 keeps its bytes (byte-text.ts), as mirror's do; as text
  // it read U+FFFD and named no file.
  const entries = await readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' }).catch(() => {
    throw noLocalMatch(pattern);
  });
  const found = entries
    .filter((d) => d.isFile() || d.isSymbolicLink())
    .map((d) => decodeBytes(d.name))
    .filter(match)
    .sort()
    .map((n) => (dir === '.' && !pattern.startsWith('./') ? n : path.join(dir, n)));
  if (found.length === 0) throw noLocalMatch(pattern);
  return found;
}

/**
 * The jobs without repeats (the same source named twice is transferred once); two different
 * sources that would land on the same target are refused before anything is transferred. A local
 * source is the same however it is spelled (`x.txt`, `./x.txt`, `$PWD/x.txt`).
 */
export function distinctJobs(jobs: readonly BatchJob[], direction: 'download' | 'upload'): BatchJob[] {
  const byTarget = new Map<string, BatchJob>();
  const sourceOf = (j: BatchJob): string => (direction === 'download' ? j.remote : j.local);
  const sameSource = (a: BatchJob, b: BatchJob): boolean =>
    direction === 'download' ? a.remote === b.remote : path.resolve(a.local) === path.resolve(b.local);
  for (const j of jobs) {
    const target = direction === 'download' ? j.local : j.remote;
    const seen = byTarget.get(target);
    if (!seen) byTarget.set(target, j);
    else if (!sameSource(seen, j))
      throw new FerryError(
        'ERR_USAGE',
        `Two sources have the same target ${target}: ${sourceOf(seen)} and ${sourceOf(j)}.`,
      );
  }
  return [...byTarget.values()];
}

export type BatchEvent =
  | { readonly kind: 'start'; readonly job: BatchJob }
  /** The job's bytes so far; a retried download that continues (REST) counts on from the failed tries'. */
  | {
      readonly kind: 'progress';
      readonly job: BatchJob;
      readonly bytes: number;
      /** The bytes the job's bytes count up to, when known. */
      readonly total: number | undefined;
    }
  | { readonly kind: 'done'; readonly job: BatchJob; readonly bytes: number }
  | { readonly kind: 'failed'; readonly job: BatchJob; readonly error: unknown }
  /** The job failed transiently and is tried again: retry `retry` of `retries`. */
  | {
      readonly kind: 'retry';
      readonly job: BatchJob;
      readonly retry: number;
      readonly retries: number;
      readonly error: unknown;
    }
  /** A connection was lost: a new one is opened after `pauseMs` (attempt `attempt` of `attempts`). */
  | ({ readonly kind: 'reconnect' } & Reconnect)
  /** Something worth telling that is not a failure (a begun download's file changed: from 0 again). */
  | { readonly kind: 'note'; readonly job: BatchJob; readonly message: string };

export interface BatchOptions {
  readonly direction: 'download' | 'upload';
  /** Connections at once (default 1); more than 1 needs `connect`. */
  readonly parallel?: number;
  readonly connect?: () => Promise<FerryClient>;
  /** Continue partial files (REST), as get/put with `resume`. */
  readonly resume?: boolean;
  /**
   * Times a file is tried again after a transient failure (isTransient: 421, 425, 426, 450, 451, a
   * lost connection, a timeout), after a short growing pause (default 0); a lost connection is
   * replaced after 1 s, 2 s, 4 s … (as many attempts, at least 5 while refused; `reconnect` events),
   * and the files still queued go over the new one (none could be had: `unsent`). A download that
   * had begun continues after its bytes (REST) when the server offers REST; an upload starts over.
   */
  readonly retries?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: BatchEvent) => void;
  readonly onConnectError?: (err: unknown) => void;
}

export interface BatchResult {
  readonly transferred: number;
  readonly bytes: number;
  /** The files that failed, each with its error; the others were transferred (or `unsent`). */
  readonly failures: readonly PoolFailure<BatchJob>[];
  /**
   * The files never tried: the connection was lost and could not be opened again (--retry spent).
   * Not failures of their own; one cause for them all.
   */
  readonly unsent?: PoolUnsent<BatchJob>;
}

/** Transfers every job; a failure does not stop the others (an abort does). */
export async function transferBatch(
  client: FerryClient,
  jobs: readonly BatchJob[],
  o: BatchOptions,
): Promise<BatchResult> {
  let transferred = 0;
  let bytes = 0;
  const emit = (e: BatchEvent): void => o.onEvent?.(e);
  const retries = o.retries ?? 0;
  const downloads = new RetriedDownloads<BatchJob>(retries, (job) =>
    emit({ kind: 'note', job, message: CHANGED_ON_SERVER }),
  );
  const { failures, unsent } = await runPool(
    client,
    jobs,
    {
      parallel: o.parallel,
      connect: o.connect,
      keepGoing: true,
      signal: o.signal,
      onConnectError: o.onConnectError,
      retries,
      transient: isTransient,
      onRetry: (job, retry, error) => emit({ kind: 'retry', job, retry, retries, error }),
      onReconnect: (r) => emit({ kind: 'reconnect', ...r }),
      onFailure: (job, error) => emit({ kind: 'failed', job, error }),
    },
    async (worker, job, attempt) => {
      if (o.signal?.aborted) throw abortedError(o.signal);
      if (attempt === 0) emit({ kind: 'start', job });
      const onProgress = (p: Progress): void =>
        emit({ kind: 'progress', job, bytes: p.bytes, total: p.total });
      const opts = { resume: o.resume ?? false, signal: o.signal, onProgress };
      // The listing's size stands for SIZE (one command less per file).
      const n =
        o.direction === 'download'
          ? await downloads.get(worker, job, job.remote, job.local, { ...opts, size: job.size })
          : (await worker.put(job.local, job.remote, opts)).bytes;
      transferred++;
      bytes += n;
      emit({ kind: 'done', job, bytes: n });
    },
  );
  return { transferred, bytes, failures, unsent };
}
