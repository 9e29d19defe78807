import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { FerryClient } from '../client/client.js';
import {
  distinctJobs,
  expandLocal,
  expandRemote,
  safeLocalName,
  transferBatch,
  type BatchEvent,
  type BatchJob,
  type BatchResult,
  type RemoteMatch,
} from '../client/batch.js';
import { hasWildcard, unquote } from '../protocol/glob.js';
import { RetriedConnection } from '../client/retried-step.js';
import {
  joinRemote,
  parseFtpUrl,
  redactUrl,
  remoteBasename,
  remoteDirname,
  type FtpUrl,
} from '../client/url.js';
import { FerryError } from '../errors.js';
import { failureKind } from '../client/errors.js';
import { fsPath } from '../client/local-file.js';
import { exitCodeFor, EXIT, type ExitCode } from './client-exit-codes.js';
import { humanBytes, type Reporter } from './client-progress.js';
import { describeError, describeLost, describeReconnect, listingOf } from './error-text.js';
import { printableName } from './printable.js';
import { keepLocalTime, keepRemoteTime } from './remote-time.js';

/**
 * `ferry get` and `ferry put` with several sources or a pattern (what `mget`/`mput` do in lftp):
 * the target is a directory, every file lands inside it under its own name, one progress line for
 * the whole batch, `--parallel N` connections, and a failed file does not stop the others (each is
 * named on stderr; the exit code is the first failure's).
 */

/** What a batch needs from the command's run (client-commands.ts's Run). */
export interface BatchRun {
  readonly reporter: Reporter;
  readonly signal: AbortSignal;
  readonly parallel: number;
  readonly resume: boolean;
  /** Tries again of a file after a transient failure (--retry). */
  readonly retries: number;
  /** -R: each file gets its source's modification time. */
  readonly remoteTime: boolean;
  connect(urlText: string): Promise<{ client: FerryClient; url: FtpUrl }>;
  another(urlText: string): Promise<FerryClient>;
}

/** A file (or a pattern) that failed, named in the summary. */
type Failure = { readonly job: BatchJob; readonly error: unknown };

const NOTHING: BatchResult = { transferred: 0, bytes: 0, failures: [] };

/** How a `put` batch's summary names its files. */
const PUT_SUMMARY = {
  total: 0,
  repeats: 0,
  failures: [],
  verb: 'put',
  name: (j: BatchJob) => j.local,
} as const;

/** Whether a `get` with these sources is a batch (several, or a pattern in the last segment). */
export function isRemoteBatch(sources: readonly string[]): boolean {
  return sources.length > 1 || sources.some((s) => hasWildcard(remoteBasename(parseFtpUrl(s).pattern)));
}

/**
 * A lone source's last segment as the name it stands for: `x\\[1\\].gz` is `x[1].gz`, as in a
 * pattern (a batch unquotes its segments when it expands them).
 */
export function unquotedLast(p: string): string {
  const slash = p.lastIndexOf('/');
  return p.slice(0, slash + 1) + unquote(p.slice(slash + 1));
}

/** A lone local source: the file of that name if there is one, else its last segment unquoted. */
export async function localSource(p: string): Promise<string> {
  if (p === '-') return p;
  return stat(p).then(
    () => p,
    () => unquotedLast(p),
  );
}

/** Whether a `put` with these sources is a batch (several, or a quoted pattern). */
export async function isLocalBatch(sources: readonly string[]): Promise<boolean> {
  if (sources.length > 1) return true;
  const only = sources[0] ?? '';
  if (only === '-' || !hasWildcard(path.basename(only))) return false;
  return stat(only).then(
    () => false,
    () => true,
  );
}

/**
 * The connection of a batch's own steps (expanding patterns, checking the target, -R), replaced as
 * the files' are when a server restart cuts it: with --retry, a step that fails transiently runs
 * again (`retrying … (n of N) after …`), over a new connection when the old one was lost.
 */
export function stepConnection(run: BatchRun, client: FerryClient, urlText: string): RetriedConnection {
  return new RetriedConnection(client, {
    retries: run.retries,
    connect: () => run.another(urlText),
    signal: run.signal,
    onReconnect: (r) => run.reporter.note(describeReconnect(r)),
  });
}

/** `onRetry` of a step: the same line as a file's retry, naming what the step does. */
function noteRetry(run: BatchRun, what: string): (retry: number, error: unknown) => void {
  return (retry, error) =>
    run.reporter.note(`retrying ${what} (${retry} of ${run.retries}) after ${describeError(error)}`);
}

/**
 * Whether `p` is a directory on the server, asked with retries (a lost connection is replaced); not
 * there, or not to be told (no MLST), is not a directory, but a lost server is no answer: it throws.
 */
export async function isRemoteDirectory(run: BatchRun, conn: RetriedConnection, p: string): Promise<boolean> {
  const existing = await conn
    .run((c) => c.stat(p), noteRetry(run, printableName(p)))
    .catch((err: unknown) => {
      if (failureKind(err) === 'connection') throw err;
      return undefined;
    });
  return existing?.type === 'dir';
}

function sameServer(a: FtpUrl, b: FtpUrl): boolean {
  return a.scheme === b.scheme && a.host === b.host && a.port === b.port && a.user === b.user;
}

async function localIsDirectory(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** `ferry get URL… [DIR]` with several sources or patterns: every file into DIR (default `.`). */
export async function getBatch(run: BatchRun, sources: readonly string[], target = '.'): Promise<ExitCode> {
  if (target === '-') throw new FerryError('ERR_USAGE', 'Several files cannot go to stdout (-); use cat.');
  if (!(await localIsDirectory(target)))
    throw new FerryError(
      'ERR_USAGE',
      `The target must be an existing directory when there are several sources or a pattern: ${redactUrl(target)} is not one.`,
    );
  const urls = sources.map(parseFtpUrl);
  const first = urls[0] as FtpUrl;
  for (const u of urls) {
    if (!sameServer(u, first))
      throw new FerryError('ERR_USAGE', 'All the URLs of one get must name the same server and user.');
    if (u.path === '' || u.trailingSlash)
      throw new FerryError('ERR_USAGE', 'A URL names a directory; use mirror for directories.');
  }
  const { client } = await run.connect(sources[0] as string);
  const conn = stepConnection(run, client, sources[0] as string);
  try {
    return await getInto(run, conn, urls, sources[0] as string, target);
  } finally {
    await conn.close();
  }
}

async function getInto(
  run: BatchRun,
  conn: RetriedConnection,
  urls: readonly FtpUrl[],
  urlText: string,
  target: string,
): Promise<ExitCode> {
  const jobs: BatchJob[] = [];
  const refused: Failure[] = [];
  const unmatched: Failure[] = [];
  for (const u of urls) {
    let matches: RemoteMatch[];
    try {
      matches = await conn.run(
        (c) => expandRemote(c, u.pattern, run.signal),
        noteRetry(run, listingOf(remoteDirname(u.pattern))),
      );
    } catch (error) {
      // A pattern the server has no file for (none matches, its directory is missing) fails alone,
      // as a missing named file does and as in lftp's mget; a lost server or Ctrl-C ends the batch.
      if (failureKind(error) !== 'remote') throw error;
      unmatched.push({ job: { remote: u.pattern, local: target, size: undefined }, error });
      continue;
    }
    for (const m of matches) {
      const job = { remote: m.path, local: path.join(target, m.name), size: m.size };
      // A listing's name with a path in it would land outside the target directory; one with a
      // line break cannot be asked for (RETR is one line).
      const unsafe = !safeLocalName(m.name) || /[\r\n]/.test(m.name);
      if (!unsafe) jobs.push(job);
      else
        refused.push({
          job,
          error: new FerryError(
            'ERR_NAME_NOT_ALLOWED',
            `Unsafe file name from the server: ${JSON.stringify(m.name)}.`,
          ),
        });
    }
  }
  const distinct = distinctJobs(jobs, 'download');
  const result = await runBatch(run, conn, urlText, distinct, 'download');
  return finish(run, result, {
    total: distinct.length + refused.length,
    repeats: jobs.length - distinct.length,
    failures: [...refused, ...result.failures],
    unmatched,
    verb: 'get',
    name: (j) => j.remote,
  });
}

/** `ferry put FILE… URL/` with several sources or patterns: every file into the remote directory. */
export async function putBatch(
  run: BatchRun,
  sources: readonly string[],
  urlText: string,
): Promise<ExitCode> {
  if (sources.includes('-')) throw new FerryError('ERR_USAGE', 'stdin (-) cannot be one of several sources.');
  const locals: string[] = [];
  const unmatched: Failure[] = [];
  for (const s of sources) {
    try {
      locals.push(...(await expandLocal(s)));
    } catch (error) {
      // As in get: a pattern with no file fails alone, the other sources are sent.
      unmatched.push({ job: { local: s, remote: '', size: undefined }, error });
    }
  }
  // Nothing to send: no connection for it.
  if (locals.length === 0) return finish(run, NOTHING, { ...PUT_SUMMARY, unmatched });
  const { client, url } = await run.connect(urlText);
  const conn = stepConnection(run, client, urlText);
  try {
    return await putInto(run, conn, locals, url, urlText, unmatched);
  } finally {
    await conn.close();
  }
}

async function putInto(
  run: BatchRun,
  conn: RetriedConnection,
  locals: readonly string[],
  url: FtpUrl,
  urlText: string,
  unmatched: readonly Failure[],
): Promise<ExitCode> {
  if (url.path !== '' && !url.trailingSlash) {
    if (!(await isRemoteDirectory(run, conn, url.path)))
      throw new FerryError(
        'ERR_USAGE',
        `The target must be an existing remote directory when there are several sources or a pattern: ${url.path} is not one (ferry mkdir -p makes it).`,
      );
  }
  const jobs: BatchJob[] = [];
  const refused: Failure[] = [];
  for (const local of locals) {
    const job = { local, remote: joinRemote(url.path, path.basename(local)), size: undefined };
    let st: Stats;
    try {
      st = await stat(fsPath(local));
    } catch (error) {
      refused.push({ job, error });
      continue;
    }
    if (st.isFile()) jobs.push({ ...job, size: st.size });
    else
      refused.push({
        job,
        error: new FerryError('ERR_USAGE', `Not a regular file: ${local} (mirror uploads directories).`),
      });
  }
  const distinct = distinctJobs(jobs, 'upload');
  const result = await runBatch(run, conn, urlText, distinct, 'upload');
  return finish(run, result, {
    ...PUT_SUMMARY,
    total: distinct.length + refused.length,
    repeats: jobs.length - distinct.length,
    failures: [...refused, ...result.failures],
    unmatched,
  });
}

/**
 * One file of `get URL FILE` or `put FILE URL`, over the batch's path so that --retry applies to it
 * as to several (curl's and lftp's do): a transient failure is tried again, over a new connection
 * when the old one was lost, and a download that had begun continues (REST). Returns the bytes
 * this run brought; throws the file's failure.
 */
export async function transferOne(
  run: BatchRun,
  client: FerryClient,
  urlText: string,
  job: BatchJob,
  direction: 'download' | 'upload',
  onProgress: (p: { bytes: number; total: number | undefined }) => void,
): Promise<number> {
  const name = direction === 'download' ? job.remote : job.local;
  const result = await transferBatch(client, [job], {
    direction,
    connect: () => run.another(urlText),
    resume: run.resume,
    retries: run.retries,
    signal: run.signal,
    onEvent: (e) => {
      if (e.kind === 'progress') onProgress(e);
      else if (e.kind === 'retry')
        run.reporter.note(
          `retrying ${printableName(name)} (${e.retry} of ${e.retries}) after ${describeError(e.error)}`,
        );
      else if (e.kind === 'reconnect') run.reporter.note(describeReconnect(e));
      // What a batch says of its files (a download that starts over), said of the one.
      else if (e.kind === 'note') run.reporter.note(`${printableName(name)}: ${e.message}`);
    },
  });
  const failure = result.failures[0];
  if (failure) throw failure.error;
  if (result.unsent) throw result.unsent.error;
  return result.bytes;
}

/** The batch with one progress line: files done/total (and failed), bytes, rate. */
async function runBatch(
  run: BatchRun,
  conn: RetriedConnection,
  urlText: string,
  jobs: readonly BatchJob[],
  direction: 'download' | 'upload',
): Promise<BatchResult> {
  if (jobs.length === 0) return NOTHING;
  const done: BatchJob[] = [];
  // Files done and failed apart: the final line must agree with the summary under it.
  let finished = 0;
  let failed = 0;
  let doneBytes = 0;
  const inFlight = new Map<BatchJob, number>();
  const known = jobs.every((j) => j.size !== undefined);
  const total = known ? jobs.reduce((sum, j) => sum + (j.size ?? 0), 0) : undefined;
  const bar = run.reporter.bar(
    () => `${finished}/${jobs.length} files${failed > 0 ? `, ${failed} failed` : ''}`,
    total,
  );
  const update = (): void => {
    let bytes = doneBytes;
    for (const b of inFlight.values()) bytes += b;
    bar.update(bytes, total);
  };
  const arrow = direction === 'download' ? '↓' : '↑';
  const onEvent = (e: BatchEvent): void => {
    switch (e.kind) {
      case 'start':
        inFlight.set(e.job, 0);
        break;
      case 'progress':
        inFlight.set(e.job, e.bytes);
        update();
        break;
      case 'done':
        done.push(e.job);
        inFlight.delete(e.job);
        finished++;
        doneBytes += e.bytes;
        update();
        if (!process.stderr.isTTY)
          run.reporter.note(
            `${arrow} ${printableName(direction === 'download' ? e.job.remote : e.job.local)} (${humanBytes(e.bytes)})`,
          );
        break;
      case 'failed':
        inFlight.delete(e.job);
        failed++;
        update();
        break;
      case 'retry':
        // The next try's progress says where it starts: after the bytes a download wrote (REST), or
        // at 0 (an upload, a server without REST).
        run.reporter.note(
          `retrying ${printableName(direction === 'download' ? e.job.remote : e.job.local)} (${e.retry} of ${e.retries}) after ${describeError(e.error)}`,
        );
        break;
      case 'reconnect':
        run.reporter.note(describeReconnect(e));
        break;
      case 'note':
        run.reporter.note(
          `${printableName(direction === 'download' ? e.job.remote : e.job.local)}: ${e.message}`,
        );
        break;
    }
  };
  let result: BatchResult;
  try {
    result = await transferBatch(conn.client, jobs, {
      direction,
      parallel: run.parallel,
      connect: () => run.another(urlText),
      resume: run.resume,
      retries: run.retries,
      signal: run.signal,
      onEvent,
      onConnectError: (err) =>
        run.reporter.note(`Could not open another connection (going on with fewer): ${describeError(err)}`),
    });
  } finally {
    bar.done();
  }
  // -R: once the files are over, on the first connection (the others may be gone), opened again
  // when the transfers lost it.
  if (run.remoteTime && !run.signal.aborted && done.length > 0) {
    // A server that stays away: each file's note says so.
    const client = await conn.live().catch(() => conn.client);
    for (const j of done) {
      const note =
        direction === 'download'
          ? await keepRemoteTime(client, j.remote, j.local)
          : await keepLocalTime(client, j.local, j.remote);
      if (note !== undefined) run.reporter.note(note);
    }
  }
  return result;
}

/**
 * The summary, each failure named, and the exit code. Interrupted (Ctrl-C), the summary says what
 * was done and what was not before the run ends with ERR_ABORTED (exit 130).
 */
function finish(
  run: BatchRun,
  result: BatchResult,
  batch: {
    /** The distinct files: one named twice (`a a`, overlapping patterns) is one file. */
    readonly total: number;
    /** The names left out as repeats of others. */
    readonly repeats: number;
    readonly failures: readonly Failure[];
    /** Patterns that gave no file (no file of the total): named as failures are. */
    readonly unmatched: readonly Failure[];
    readonly verb: string;
    readonly name: (j: BatchJob) => string;
  },
): ExitCode {
  const { total, repeats, failures, unmatched, verb, name } = batch;
  const interrupted = run.signal.aborted;
  // Files cut short by the interruption are not failures of their own.
  const failed = interrupted ? failures.filter((f) => failureKind(f.error) !== 'aborted') : failures;
  const notDone = total - result.transferred - failed.length;
  const none = unmatched.length;
  // Files never tried once the connection was given up: counted, and their cause said once.
  const lost = result.unsent && !interrupted ? result.unsent : undefined;
  const rest = interrupted
    ? `; interrupted: ${notDone} not transferred`
    : lost
      ? `; connection lost: ${notDone} not transferred`
      : '';
  run.reporter.note(
    `Transferred ${result.transferred} of ${total} file(s), ${humanBytes(result.bytes)}${repeats ? ` (${repeats} named twice)` : ''}${failed.length ? `; ${failed.length} failed` : ''}${none ? `; ${none} ${none === 1 ? 'pattern' : 'patterns'} matched no file` : ''}${rest}.`,
  );
  run.reporter.stop();
  // Names and replies are the server's: a terminal escape in them is shown escaped.
  const named = [...unmatched, ...failed];
  for (const f of named)
    process.stderr.write(`ferry: ${verb} ${printableName(name(f.job))}: ${describeError(f.error)}\n`);
  if (lost) process.stderr.write(`ferry: ${verb}: ${describeLost(lost.error, lost.jobs.length)}\n`);
  if (interrupted) throw new FerryError('ERR_ABORTED', 'Transfer aborted.');
  const first = named[0] ?? lost;
  return first ? exitCodeFor(first.error) : EXIT.ok;
}
