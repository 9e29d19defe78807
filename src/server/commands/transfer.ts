import { Readable, type Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { replyForError } from '../../errors.js';
import { fromNetworkAscii, networkAsciiSize, skipBytes, toNetworkAscii } from '../../protocol/ascii.js';
import { Code } from '../../protocol/codes.js';
import { reply, type Reply } from '../../protocol/reply.js';
import { storageError } from '../../storage/fs-errors.js';
import { prepareWrite } from '../../storage/prepared-write.js';
import { isRecycling } from '../../storage/recycling.js';
import { chain } from '../../storage/stream-chain.js';
import {
  StorageError,
  fileOf,
  type FileSource,
  type FileStat,
  type PreparedWrite,
  type StorageContext,
  type VPath,
} from '../../storage/types.js';
import { RESUME_REFUSED_CODE, RESUME_REFUSED_TEXT } from '../../protocol/resume-refused.js';
import { cutKey, sameVersion, type FileVersion } from '../cut-uploads.js';
import type { CutRecord } from '../../shared-cut-uploads.js';
import { ABANDON_AFTER_MS } from '../abandon-on-abort.js';
import { GatheredUpload } from '../gathered-upload.js';
import { connectionSink } from '../connection-sink.js';
import { refusedForGood } from '../refused-for-good.js';
import { SourceWatch, readError } from '../source-watch.js';
import { UploadWatch } from '../upload-watch.js';
import { baseName } from '../../storage/virtual-path.js';
import { command, type AnyCommandSpec, type CommandContext, type UserFiles } from './types.js';
import { StorageFailure, type TransferProgress } from '../transfers.js';
import { ABOR_BY_CLIENT } from '../transfer-cuts.js';

const modeName = (ctx: CommandContext): string => (ctx.session.type === 'A' ? 'ASCII' : 'BINARY');

async function upload(
  ctx: CommandContext,
  p: VPath,
  append: boolean,
  command: string,
  opening: string,
): Promise<Reply> {
  const offset = ctx.oneShot.restOffset;
  const files = ctx.files();
  const features = files.storage.features;
  if (append && !features.has('append')) throw new StorageError('unsupported', 'APPE not supported.');
  if (offset > 0 && !features.has('restart-write'))
    throw new StorageError('unsupported', 'REST not supported for uploads.');
  // REST counts bytes as sent (SIZE's count); a TYPE A upload's place in the stored file is not
  // known from it without guessing how the client's copy ends its lines.
  if (offset > 0 && ctx.session.type === 'A')
    return reply(
      Code.SyntaxErrorArgs,
      `${command} cannot restart in TYPE A (ASCII): send TYPE I, then REST and ${command} again.`,
    );
  // A resume onto the old version a cut upload left would splice it to the new one (cut-uploads.ts).
  const key = cutKey(files.principal.username, p);
  if ((offset > 0 || append) && (await ctx.cutUploads.isCut(key, () => versionOf(files, p)))) {
    ctx.logger.info(
      { user: files.principal.username, path: p, offset, append },
      'resume refused: the last upload was cut',
    );
    return reply(RESUME_REFUSED_CODE, RESUME_REFUSED_TEXT);
  }
  // The target is checked before the 150 (RFC 959 5.4: no 550 may follow it), like RETR's: a
  // refusal uses no data connection, and the client's next reply stays its next command's.
  let target: PreparedWrite;
  try {
    target = await prepareWrite(files.storage, p, { offset, append }, files.context());
  } catch (err) {
    ctx.transfer.refused(); // its data connection is closed unused once the refusal is out, as a listing's
    throw err;
  }
  let stored = false;
  /** Refused for good (551) or for room (552), the client still there for its reply: nothing stored. */
  let refused = false;
  /** The transfer's signal: aborted when ABOR came or the client went (before its reply). */
  let cut: AbortSignal | undefined;
  /** A STOR from 0: what it replaces is remembered (see below), not continued. */
  const replacement = offset === 0 && !append;
  let replacing: FileVersion | undefined;
  let cutBefore = false;
  /** The record this upload wrote (another session's STOR of the file may replace it). */
  let own: CutRecord | undefined;
  /** No data connection came (425: no PASV/PORT, none made, a failed connect; 522): nothing sent. */
  let unconnected = false;
  try {
    // The version a replacement replaces is remembered before the 150, not when its data
    // connection is served: a client that has sent bytes the server never read (aborted as the
    // connection came) holds them for sent too. A client resuming while this upload still runs
    // (its own retry after a network drop, before the server saw the drop) is refused as well.
    // Once stored, it is forgotten.
    replacing = replacement ? await versionOf(files, p) : undefined;
    // A record an earlier cut upload left must outlive this one's refusal (see below).
    if (replacing) ({ stood: cutBefore, own } = await ctx.cutUploads.remember(key, replacing));
    const r = await ctx.transfer.run(
      command,
      opening,
      async (sock, t) => {
        cut = t.signal;
        // A truncated upload (no close_notify) makes sock.stream fail: the old file stays.
        const watch = new UploadWatch(sock.stream); // the storage's own failure: 451, not 426
        const gathered = GatheredUpload.of(sock.stream, (n) => t.count(n));
        const body = watch.reads(gathered ? gatheredBody(ctx, gathered) : streamedBody(ctx, sock.stream, t));
        if (gathered) gathered.drainsOn = dropsRest;
        // Storage holds the upload up when it takes no more bytes (what it reads is full), or when
        // it has them all (the client ended) and has not stored them yet.
        if (sock.idle) {
          sock.idle.heldByServer = () =>
            sock.stream.readableEnded || body.readableLength >= body.readableHighWaterMark;
          if (gathered) sock.idle.pacing = () => gathered.pacing; // a paced upload is not idle
        }
        // Storage's steps (a chunk written, the kept bytes of an APPE copied after the client's end)
        // keep the idle timeout from blaming it while it moves.
        const storing = files.context(t.signal);
        let steps = 0;
        if (sock.idle) sock.idle.storageSteps = () => steps;
        try {
          await target.write(body, {
            ...storing,
            progress: () => {
              steps++;
              storing.progress?.();
            },
          });
        } catch (err) {
          // A full disk (552) or a refusal for good (551): the client gets its reply after sending the
          // rest (dropped), not a reset. Also when storage failed before reading any of it (APPE,
          // REST: copying the kept bytes).
          if (gathered && !gathered.destroyed && err instanceof Error && dropsRest(err))
            gathered.destroy(err);
          if (gathered?.drained) await untilAborted(gathered.drained, t.signal);
          throw watch.failure(err);
        }
      },
      p,
      offset,
    );
    stored = r.code === Code.ClosingDataSuccess;
    // 551 comes only while the client is there (else 426); a 552 stands also for a client that went
    // (curl, once its data connection is reset: see Transfers), which may hold bytes for sent.
    refused = (r.code === Code.PageTypeUnknown || r.code === Code.ExceededStorage) && cut?.aborted !== true;
    unconnected = r.code === Code.CantOpenData || r.code === Code.TlsNegotiationFailed;
    if (stored && replacement) await ctx.cutUploads.forget(key);
    return r;
  } finally {
    // A replacement cut, aborted or failed (also before the data flowed): the client may hold some
    // bytes for sent, and the file there (if any) is still the old one, which a resume must not
    // continue. A cut APPE or REST upload leaves the version it continued: still the start of what
    // the client sends, so its resume stays allowed (an append to a log, retried).
    // Remembered from its start already, unless the file changed meanwhile (another session's).
    // Storage stuck under the cut upload (a frozen mount) must not hold its 426: after 1 s the
    // version remembered at the start stands.
    if (!stored && replacement) {
      const v = await within(versionOf(files, p), ABANDON_AFTER_MS);
      const unchanged = v !== undefined && replacing !== undefined && sameVersion(replacing, v);
      // Refused for good (551) or for room (552: a quota, a full disk; the rest of its bytes read and
      // dropped first), or no data connection came: the client was told nothing was stored, and
      // nothing was: no resume to refuse (the next APPE would get 451 "… did not complete", SIZE
      // 504). A cut (426), an ABOR or storage failing mid-way (451, which lftp retries with REST)
      // keep it: the client may hold some bytes for stored.
      // Only this upload's own record goes: one an earlier cut left still guards the old version, and
      // so does one another session's STOR of the file wrote since (it may be cut, its record ours).
      if ((refused || unconnected) && unchanged && !cutBefore && own)
        await ctx.cutUploads.forgetOwn(key, own);
      else if (v && !unchanged) await ctx.cutUploads.remember(key, v);
    }
    await target.release(); // no data connection came (425, ABOR): nothing was written
  }
}

/** The file at `p` as it stands (undefined: none), asked even when the client is gone. */
async function versionOf(files: UserFiles, p: VPath): Promise<FileVersion | undefined> {
  try {
    const st = fileOf(await files.storage.stat(p, files.context(AbortSignal.timeout(30_000))));
    return st && { id: st.id, size: st.size, modified: st.modified.getTime() };
  } catch {
    return undefined;
  }
}

/** The rest of the upload is read and dropped: it could not be stored whatever it holds. */
function dropsRest(err: Error): boolean {
  return noRoom(err) || refusedForGood(err);
}

/** A full disk or quota (552): raw from the file being written (ENOSPC), or mapped by storage. */
function noRoom(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT' || replyForError(err).reply.code === Code.ExceededStorage;
}

/** `p`'s value, or undefined if `ms` pass first (what it gives later is dropped). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (err: unknown) => (clearTimeout(timer), reject(err)),
    );
  });
}

/** Resolves once `p` has, or `signal` (ABOR, the client gone) aborts. */
function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => resolve();
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) resolve();
    void p.then(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    });
  });
}

/** TYPE A converts the gathered chunks in place, one slice each: they still come back once written. */
function gatheredBody(ctx: CommandContext, gathered: GatheredUpload): Readable {
  return ctx.session.type === 'A' ? chain(gathered, [fromNetworkAscii()], { wholeChunks: true }) : gathered;
}

/** The data connection read as a stream (where GatheredUpload cannot read it), counted. */
function streamedBody(ctx: CommandContext, stream: Duplex, t: TransferProgress): Readable {
  stream.on('data', counter(t));
  stream.pause(); // counting must not start the flow before storage reads
  return ctx.session.type === 'A' ? chain(stream, [fromNetworkAscii()]) : stream;
}

/** The file at `p` (a directory refused). */
async function fileStat(files: UserFiles, p: VPath): Promise<FileStat> {
  const st = fileOf(await files.storage.stat(p, files.context()));
  if (!st) throw new StorageError('is-directory', 'Is a directory.');
  return st;
}

/**
 * The bytes a TYPE A RETR of `p` sends (SIZE's count): at least its size on disk, so asked only past
 * it. The whole file is read before the 150: each chunk is a step for the command time limit.
 */
async function asciiSize(files: UserFiles, p: VPath): Promise<number> {
  const c = files.context();
  const src = await files.storage.openRead(p, { offset: 0 }, c);
  try {
    return await networkAsciiSize(steps(src, c));
  } finally {
    src.destroy();
  }
}

/** `src`'s chunks, each reported to `c.progress` as it passes. */
async function* steps(src: AsyncIterable<Buffer>, c: StorageContext): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    c.progress?.();
    yield chunk;
  }
}

/**
 * A small file read at once goes out in one write and the data connection's end. A stream pipeline
 * per file (pipeline's own AbortController and the DOMException it aborts with, the listeners)
 * cost ~50 µs of CPU and garbage: 5-15 % of the server's CPU per 16 KiB RETR.
 */
async function sendWhole(bytes: Buffer, dst: Duplex, t: TransferProgress): Promise<void> {
  t.count(bytes.length);
  if (bytes.length > 0) dst.end(bytes);
  else dst.end();
  await finished(dst, { readable: false, signal: t.signal }); // a failure or ABOR: ended after the reply
}

/**
 * A RETR's file into the data connection; `asciiSkip`: converted to TYPE A, the first bytes skipped.
 * `expected`: the bytes the source must give (the size announced, from the offset opened at). One
 * ending short of it (a file truncated meanwhile, a backend's stream ending early) fails the
 * transfer: a 226 would pass a short file as whole.
 */
async function sendFile(
  src: FileSource,
  dst: Duplex,
  t: TransferProgress,
  expected: number,
  asciiSkip?: number,
): Promise<void> {
  if (src.whole) {
    if (src.whole.length < expected) throw endedShort(src.whole.length, expected);
    if (asciiSkip === undefined) return sendWhole(src.whole, dst, t);
  }
  // Into connectionSink, not into dst: a failure leaves the connection for after the reply.
  if (asciiSkip !== undefined) {
    // The bytes sent are converted: the file's own are counted where they leave the source.
    let read = 0;
    src.on('data', (chunk: Buffer) => (read += chunk.length));
    const sent = skipBytes(asciiSkip);
    sent.on('data', counter(t));
    await pipeline(src, toNetworkAscii(), sent, connectionSink(dst), { signal: t.signal });
    if (read < expected) throw endedShort(read, expected);
    return;
  }
  // In binary what is sent is the source's bytes: one listener counts both.
  let read = 0;
  src.on('data', (chunk: Buffer) => {
    read += chunk.length;
    t.count(chunk.length);
  });
  const recycle = isRecycling(src) ? (chunk: Buffer) => src.recycle(chunk) : undefined;
  await pipeline(src, connectionSink(dst, recycle), { signal: t.signal });
  if (read < expected) throw endedShort(read, expected);
}

/** The storage's stream ended before the size announced: 451, the data connection cut (see Transfers). */
function endedShort(read: number, expected: number): StorageFailure {
  return new StorageFailure(
    'send the whole file',
    new Error(`the file ended after ${read} of the ${expected} bytes announced`),
  );
}

/** Counts bytes as they pass, for STAT and the transfer log, without touching the data path. */
function counter(t: TransferProgress): (chunk: Buffer) => void {
  return (chunk) => t.count(chunk.length);
}

/** RETR: the file at `path` into the data connection (its TYPE, from REST's offset). */
async function retrieve(path: string, ctx: CommandContext): Promise<Reply> {
  const files = ctx.files();
  const p = await files.resolve(path);
  const offset = ctx.oneShot.restOffset;
  if (offset > 0 && !files.storage.features.has('restart-read'))
    throw new StorageError('unsupported', 'REST not supported for downloads.');
  // A backend that sizes what it opens (local disk) resolves the path once; others (S3: a HEAD
  // before the GET) are asked first, as ever.
  const first = files.storage.features.has('size-at-open') ? undefined : await fileStat(files, p);
  // TYPE A restarts count bytes as sent: converted from the start, the first `offset` skipped.
  const ascii = ctx.session.type === 'A';
  const src = await files.storage.openRead(p, { offset: ascii ? 0 : offset }, files.context());
  const source = new SourceWatch(src, 'read the file', (err) => readError(err, p));
  try {
    const size = first?.size ?? src.fileSize ?? (await fileStat(files, p)).size;
    source.throwIfFailed(); // gone since its stat, say: refused before the 150
    // A resume from a local copy larger than this file: a 226 with no bytes would pass it as done.
    if (offset > size && offset > (ascii ? await asciiSize(files, p) : size))
      throw storageError('beyond-end', 'read', p);
    // The size on disk is what TYPE I sends (TYPE A sends a CR more per bare LF: SIZE counts them).
    const sized = ctx.session.type === 'I' ? ` (${size} bytes)` : '';
    const opening = `Opening ${modeName(ctx)} mode data connection for ${baseName(p)}${sized}.`;
    return await ctx.transfer.run(
      'RETR',
      opening,
      (sock, t) => {
        // Nothing queued for the client and the file not all sent: storage gives no bytes (a frozen gateway).
        if (sock.idle)
          sock.idle.heldByServer = () => sock.stream.writableLength === 0 && !sock.stream.writableEnded;
        const expected = Math.max(0, size - (ascii ? 0 : offset));
        return source.into(sock.stream, () =>
          sendFile(src, sock.stream, t, expected, ascii ? offset : undefined),
        );
      },
      p,
      offset,
    );
  } finally {
    src.destroy();
  }
}

export const transferCommands: AnyCommandSpec[] = [
  command({
    verb: 'RETR',
    permission: 'download',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'RETR <sp> path',
    async handle({ path }, ctx) {
      try {
        return await retrieve(path, ctx);
      } catch (err) {
        // Refused before its 150 (550 no such file, a permission): its data connection, maybe
        // accepted already, is closed unused once the refusal is out, as a refused STOR's.
        ctx.transfer.refused();
        throw err;
      }
    },
  }),
  command({
    verb: 'STOR',
    permission: 'upload',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'STOR <sp> path',
    async handle({ path }, ctx) {
      return upload(
        ctx,
        await ctx.files().resolve(path),
        false,
        'STOR',
        `Ok to send data (${modeName(ctx)} mode).`,
      );
    },
  }),
  command({
    verb: 'APPE',
    permission: 'upload',
    target: ({ path }) => path,
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'APPE <sp> path',
    async handle({ path }, ctx) {
      return upload(
        ctx,
        await ctx.files().resolve(path),
        true,
        'APPE',
        `Ok to append data (${modeName(ctx)} mode).`,
      );
    },
  }),
  command({
    verb: 'STOU',
    permission: 'upload',
    access: 'logged-in',
    concurrency: 'serial',
    data: true,
    help: 'STOU',
    async handle(_cmd, ctx) {
      const { storage, context } = ctx.files();
      if (!storage.uniqueName) throw new StorageError('unsupported', 'STOU not supported.');
      const p = await storage.uniqueName(ctx.session.cwd, context());
      // RFC 1123 4.1.2.9: the 150 reply names the file.
      return upload(ctx, p, false, 'STOU', `FILE: ${baseName(p)}`);
    },
  }),
  command({
    verb: 'ABOR',
    access: 'logged-in',
    concurrency: 'out-of-band',
    help: 'ABOR',
    async handle(_cmd, ctx) {
      const t = ctx.transfer.active;
      if (!t) {
        ctx.session.setData(undefined);
        return reply(Code.DataOpenNoTransfer, 'No transfer to abort.');
      }
      t.abort(ABOR_BY_CLIENT);
      await t.done; // its 426 goes out first
      return reply(Code.ClosingDataSuccess, 'Abort successful.');
    },
  }),
];
