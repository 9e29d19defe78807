import { open as openFile, stat as fsStat, unlink } from 'node:fs/promises';
import { Code } from '../protocol/codes.js';
import { replyLine, type Reply } from '../protocol/reply.js';
import { Readable, type Writable } from 'node:stream';
import { FerryError, ReplyError } from '../errors.js';
import { isResumeRefused } from '../protocol/resume-refused.js';
import { abortedError, dataConnectionError, localError, LocalError, OverrunError } from './errors.js';
import { emptyFile, endFileAt, FileSink, fsPath } from './local-file.js';
import { LocalWatch } from './local-watch.js';
import { keysOf } from './option-keys.js';
import { skipBytes, type Skipped } from './skip-bytes.js';
import { described, pathArg, transfer, type ClientSession } from './session.js';
import type { TransferBody } from './transfer.js';

/**
 * File transfers: downloads (RETR) to a local file or a stream and uploads (STOR, APPE) from one,
 * with resume (REST for a download, APPE for an upload), append and progress.
 */

export interface Progress {
  /** Bytes moved by this transfer (after `offset`). */
  readonly bytes: number;
  /** Bytes expected in this transfer, when known. */
  readonly total: number | undefined;
  /** Where the transfer started (REST, resume): bytes the target had before it, not in `bytes`. */
  readonly offset: number;
}

export interface TransferOptions {
  /** Start at this byte (REST). */
  readonly offset?: number;
  /** Continue an interrupted transfer: the offset is the size of what the target already has. */
  readonly resume?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

export interface GetOptions extends TransferOptions {
  /**
   * Start at this byte of the remote file (REST), written at the same byte of the local file, which
   * must exist (ERR_LOCAL otherwise; offset 0 creates it). Once the transfer succeeded, the local
   * file ends where the remote one does; a failed one leaves every byte that was there.
   */
  readonly offset?: number;
  /**
   * The remote file's size when already known (from a listing): no SIZE command is sent for it
   * (but for one from an offset, below). It sizes the progress only: the file may have changed
   * since, so a cut download is judged by what the server says at the transfer (its 150's size),
   * not by this. A download from an offset (`resume`, `offset`) asks SIZE still: after REST only the
   * size can tell that the server sent from there; a resume whose server gives none downloads the
   * whole file instead.
   */
  readonly size?: number;
  /** End the destination stream at the end (default true; false for e.g. stdout). */
  readonly end?: boolean;
  /** Permission bits of a local file the download creates (the umask applies); default 0o666. */
  readonly mode?: number;
}

export interface PutOptions extends TransferOptions {
  /**
   * Keep the remote file's first `offset` bytes and write the source's from byte `offset` on after
   * them (REST + STOR): a file's first bytes are skipped, and so are a stream's (read and dropped,
   * as with `resume`). A source shorter than that is ERR_LOCAL, before anything is sent.
   */
  readonly offset?: number;
  /** APPE: append to the remote file. */
  readonly append?: boolean;
  /** The size of a stream source, for progress. */
  readonly size?: number;
}

const TRANSFER_KEYS = { offset: true, resume: true, signal: true, onProgress: true } as const;
export const GET_OPTION_KEYS = keysOf<GetOptions>({ ...TRANSFER_KEYS, size: true, end: true, mode: true });
export const PUT_OPTION_KEYS = keysOf<PutOptions>({ ...TRANSFER_KEYS, append: true, size: true });

export interface TransferSummary {
  readonly bytes: number;
  /** The offset the transfer started at (resume). */
  readonly offset: number;
  /** The server's final reply; absent when a resume found nothing left to transfer (no command sent). */
  readonly reply: Reply | undefined;
}

/** The size of a remote file (SIZE), or undefined when the server cannot tell. */
export async function remoteSize(s: ClientSession, path: string): Promise<number | undefined> {
  const r = await s.control.request(`SIZE ${path}`);
  if (r.code !== Code.FileStatus) return undefined;
  const n = Number(replyLine(r).trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The size in a `150 … (1234 bytes)` reply, as vsftpd, ProFTPD and Ferry send it. */
export function announcedSize(r: Reply): number | undefined {
  const m = /\((\d+) bytes?\)/i.exec(r.lines.join(' '));
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function rethrowLocal(err: unknown): never {
  throw localError(err);
}

/**
 * The local side of get() or put() as the types say (a JavaScript caller may pass anything): a
 * path, or a stream of the right direction. Checked before anything is sent.
 */
function checkLocal(local: unknown, direction: 'download' | 'upload'): void {
  if (typeof local === 'string') return;
  const has = (method: string): boolean =>
    typeof local === 'object' &&
    local !== null &&
    typeof (local as Record<string, unknown>)[method] === 'function';
  if (direction === 'download' && has('write') && has('end') && has('on')) return;
  if (direction === 'upload' && has('pipe') && has('on')) return;
  const [call, stream] = direction === 'download' ? ['get', 'Writable'] : ['put', 'Readable'];
  const hint =
    direction === 'upload' && local instanceof Uint8Array
      ? ' (for bytes in memory: Readable.from([bytes]))'
      : '';
  throw new FerryError(
    'ERR_USAGE',
    `${call}(): the local side must be a file path (a string) or a ${stream} stream, not ${described(local)}${hint}.`,
  );
}

/**
 * Runs `fn` with the caller's stream watched from the call on (local-watch.ts): a stream that has
 * failed already fails the call before anything is sent, and a failure later aborts the transfer.
 */
async function watched<T>(
  stream: Readable | Writable,
  direction: 'download' | 'upload',
  fn: (watch: LocalWatch) => Promise<T>,
): Promise<T> {
  const watch = new LocalWatch(stream, direction);
  try {
    if (watch.failure) throw localError(watch.failure);
    return await fn(watch);
  } finally {
    watch.stop();
  }
}

/** Downloads a file to a local path or a stream (see FerryClient.get). */
export async function download(
  s: ClientSession,
  remote: string,
  local: string | Writable,
  opts: GetOptions,
): Promise<TransferSummary> {
  pathArg(remote);
  checkLocal(local, 'download');
  // Aborted already: nothing is opened, created or sent.
  if (opts.signal?.aborted) throw abortedError(opts.signal);
  if (typeof local === 'string') return receive(s, remote, local, opts, undefined);
  return watched(local, 'download', (watch) => receive(s, remote, local, opts, watch));
}

async function receive(
  s: ClientSession,
  remote: string,
  local: string | Writable,
  opts: GetOptions,
  watch: LocalWatch | undefined,
): Promise<TransferSummary> {
  let offset = opts.offset ?? 0;
  if (opts.resume && typeof local === 'string') {
    // A pipe or a terminal (/dev/stdout) holds nothing to continue after.
    offset = await fsStat(fsPath(local)).then(
      (st) => (st.isFile() ? st.size : 0),
      () => 0,
    );
  }
  const known =
    opts.size !== undefined && Number.isSafeInteger(opts.size) && opts.size >= 0 ? opts.size : undefined;
  // After REST the byte count against the size is the only sign that the server sent from `offset`
  // (one may answer 350 and send from byte 0): SIZE is asked then, even where the caller knew a
  // size (a listing's may be stale).
  const asked = offset > 0 || (known === undefined && (opts.onProgress || opts.resume));
  const current = asked ? await remoteSize(s, remote) : undefined;
  if (opts.resume && offset > 0 && current === undefined) {
    // Nothing could tell the file continued from the file appended whole after the kept bytes.
    s.control.info(
      `${remote}: the server tells no size (SIZE), so a continued download could not be checked; downloading the whole file rather than after the local file's ${offset} bytes.`,
    );
    offset = 0;
  }
  const total = current ?? known;
  if (opts.resume && total !== undefined) {
    if (offset > total) {
      // The local file is what does not fit, not the command line.
      throw new LocalError(
        new Error(`Cannot resume: the local file has ${offset} bytes, more than the ${total} of ${remote}.`),
      );
    }
    if (offset === total) {
      return { bytes: 0, offset, reply: undefined };
    }
  }
  // TLS records copied into large reused buffers, one file write each (local-file.ts). Opened
  // before RETR, without truncating: a file that cannot be written is refused before the server
  // is asked, and one the server refuses to send leaves the local file as it was.
  const sink =
    typeof local === 'string'
      ? await FileSink.open(local, { start: offset, mode: opts.mode }).catch(rethrowLocal)
      : local;
  const expected = total !== undefined ? total - offset : undefined;
  opts.onProgress?.({ bytes: 0, total: expected, offset });
  // The size the server announced (SIZE just now, else `150 … (N bytes)` for a whole file): fewer
  // bytes than that is a cut download (a data connection ended early), as curl's "Partial file". A
  // size the caller knew (a listing's) may be stale by now (a log file rewritten meanwhile).
  let announced = current === undefined ? undefined : current - offset;
  try {
    const result = await transfer(
      s,
      `RETR ${remote}`,
      { direction: 'download', sink, end: opts.end },
      {
        signal: opts.signal,
        rest: offset,
        local: watch,
        onBytes: (bytes) => opts.onProgress?.({ bytes, total: expected, offset }),
        onPreliminary: (r) => {
          if (announced === undefined && offset === 0) announced = announcedSize(r);
        },
        // More than announced is an error too (a server sending for ever, or from 0 after REST).
        size: () => announced,
        dataRequired: true,
      },
    );
    if (announced !== undefined && result.bytes < announced)
      throw dataConnectionError(
        `Partial file: ${result.bytes} of the ${announced} bytes announced for ${remote} arrived (the data connection ended early).`,
      );
    // Old bytes beyond what arrived are not the remote file's; cut only now that it all arrived (a
    // failed transfer leaves every byte that was there).
    if (typeof local === 'string' && offset > 0)
      await endFileAt(local, offset + result.bytes).catch(rethrowLocal);
    // An empty remote file, downloaded whole: only now is the old content known to be replaced.
    if (sink instanceof FileSink && sink.unwritten) await emptyFile(sink.path).catch(rethrowLocal);
    return { bytes: result.bytes, offset, reply: result.reply };
  } catch (err) {
    sink.destroy();
    // A write may still be in flight: the local file is final (for a resume) only once it closed.
    // Its 'error' is the transfer's, handed on (the data connection's): `err` says what failed.
    if (typeof local === 'string' && !sink.closed) await new Promise((done) => sink.once('close', done));
    // An overrun after REST: the server sent from elsewhere (byte 0), so what this attempt wrote
    // is not the file's from `offset` on; the file goes back to what it held (a retry or get -c
    // would build on wrong bytes).
    if (typeof local === 'string' && offset > 0 && err instanceof OverrunError)
      await endFileAt(local, offset).catch(rethrowLocal);
    if (sink instanceof FileSink && sink.created) {
      // Do not leave an empty file behind for a download that never started (refused or aborted).
      const size = await fsStat(fsPath(sink.path)).then(
        (st) => st.size,
        () => -1,
      );
      if (size === 0) await unlink(fsPath(sink.path)).catch(() => {});
    }
    throw err;
  }
}

/** Uploads a local file or a stream (see FerryClient.put). */
export async function upload(
  s: ClientSession,
  local: string | Readable,
  remote: string,
  opts: PutOptions,
): Promise<TransferSummary> {
  pathArg(remote);
  checkLocal(local, 'upload');
  if (typeof local !== 'string') {
    return watched(local, 'upload', async (watch) => {
      const offset = opts.resume ? ((await remoteSize(s, remote)) ?? 0) : (opts.offset ?? 0);
      let source: Readable = local;
      if (offset > 0) {
        // The server has (resume) or keeps (offset) the first `offset` bytes: the stream's are
        // skipped, as a file's are (curl -C - -T -).
        const skipped = await skipStart(local, offset, watch, opts.signal);
        if (skipped.bytes < offset) {
          if (!opts.resume) throw beyondEnd(offset, 'stream', skipped.bytes);
          throw new FerryError(
            'ERR_REMOTE',
            `Cannot resume: ${remote} has ${offset} bytes, more than the ${skipped.bytes} of the stream.`,
          );
        }
        if (!skipped.more && opts.resume) return { bytes: 0, offset, reply: undefined };
        // Read to its end: the remote file is to end at the offset (REST + STOR of nothing).
        if (!skipped.more) source = Readable.from([]);
      }
      const body: TransferBody = { direction: 'upload', source };
      return uploadBody(s, body, remote, offset, opts, opts.size, watch);
    });
  }
  const offset = opts.resume ? ((await remoteSize(s, remote)) ?? 0) : (opts.offset ?? 0);
  const st = await fsStat(fsPath(local)).catch(rethrowLocal);
  if (!st.isFile()) throw new FerryError('ERR_USAGE', `Not a regular file: ${local}`);
  if (!opts.resume && offset > st.size) throw beyondEnd(offset, 'file', st.size);
  if (opts.resume && offset > st.size) {
    throw new FerryError(
      'ERR_REMOTE',
      `Cannot resume: ${remote} has ${offset} bytes, more than the ${st.size} of the local file.`,
    );
  }
  if (opts.resume && offset === st.size) {
    return { bytes: 0, offset, reply: undefined };
  }
  // Opened before the command: a file that cannot be read is refused before the server sees anything.
  const handle = await openFile(fsPath(local), 'r').catch(rethrowLocal);
  try {
    // Read into reused buffers (upload-file.ts).
    const body: TransferBody = { direction: 'upload', file: { handle, start: offset } };
    try {
      return await uploadBody(s, body, remote, offset, opts, st.size, undefined);
    } catch (err) {
      // Ferry refuses to continue a file its last upload left as the previous version (cut): the
      // remote bytes are not the local file's start. A local file can be sent again whole.
      if (!(opts.resume && offset > 0 && resumeRefused(err))) throw err;
      s.control.info(`${remote}: the server refused to resume (${err.replyText}); uploading the whole file.`);
      const whole: TransferBody = { direction: 'upload', file: { handle, start: 0 } };
      return await uploadBody(s, whole, remote, 0, { ...opts, resume: false }, st.size, undefined);
    }
  } finally {
    await handle.close();
  }
}

/** An explicit put() offset past the end of its source: nothing to send from there. */
function beyondEnd(offset: number, what: 'file' | 'stream', size: number): LocalError {
  return new LocalError(
    new Error(`put(): offset ${offset} is beyond the end of the ${what} (${size} bytes).`),
  );
}

/** Ferry's refusal to continue a file whose last upload was cut (protocol/resume-refused.ts). */
function resumeRefused(err: unknown): err is ReplyError {
  return err instanceof ReplyError && isResumeRefused(err.replyCode, err.replyText);
}

/** skipBytes, failing as a transfer would: the stream's own failure, or the caller's abort. */
async function skipStart(
  local: Readable,
  n: number,
  watch: LocalWatch,
  signal: AbortSignal | undefined,
): Promise<Skipped> {
  try {
    return await skipBytes(local, n, AbortSignal.any(signal ? [signal, watch.signal] : [watch.signal]));
  } catch (err) {
    if (watch.failure) throw localError(watch.failure);
    if (signal?.aborted) throw abortedError(signal);
    throw localError(err);
  }
}

/**
 * STOR (REST + STOR for an explicit offset), APPE to append and to resume. A resume appends at the
 * remote size just measured, as curl does: REST + STOR is not safe everywhere (npm's ftp-srv 4.6.3
 * empties the file, then writes at the offset: zeros where the first part was). Afterwards the
 * remote size must be the whole file's, else the resume failed however the server answered.
 */
async function uploadBody(
  s: ClientSession,
  body: TransferBody,
  remote: string,
  offset: number,
  opts: PutOptions,
  total: number | undefined,
  local: LocalWatch | undefined,
): Promise<TransferSummary> {
  const expected = total !== undefined ? Math.max(0, total - offset) : undefined;
  opts.onProgress?.({ bytes: 0, total: expected, offset });
  const resumed = opts.resume === true && offset > 0;
  const verb = opts.append || resumed ? 'APPE' : 'STOR';
  const r = await transfer(s, `${verb} ${remote}`, body, {
    signal: opts.signal,
    onBytes: (bytes) => opts.onProgress?.({ bytes, total: expected, offset }),
    rest: resumed || opts.append ? undefined : offset,
    local,
  });
  if (resumed) {
    const size = await remoteSize(s, remote);
    if (size !== offset + r.bytes) {
      throw new FerryError(
        'ERR_REMOTE',
        `The resumed upload of ${remote} did not add up: the server says ${size ?? 'no'} bytes (SIZE), not ${offset + r.bytes} (${offset} there + ${r.bytes} sent); the remote file is not the local one.`,
      );
    }
  }
  return { bytes: r.bytes, offset, reply: r.reply };
}
