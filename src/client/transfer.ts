import { once } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import type * as net from 'node:net';
import { Transform, type Duplex, type Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type * as tls from 'node:tls';
import { byteCheck } from '../byte-chunks.js';
import { FerryError, ReplyError } from '../errors.js';
import { Code } from '../protocol/codes.js';
import {
  isNegative,
  isPositiveIntermediate,
  isPreliminary,
  replyLine,
  type Reply,
} from '../protocol/reply.js';
import type { ClientControlConnection } from './control.js';
import { activeFailure, openActive, openPassive, type DataState, type Endpoint } from './data-endpoint.js';
import { giveUp, resetWhenPipelineFails } from './data-reset.js';
import { checkDataCertificate, dataHandshake, startDataTls } from './data-tls.js';
import { abortedError, ActiveTimeoutError, dataConnectionError, localError, overrunError } from './errors.js';
import { FileSink } from './local-file.js';
import { LocalWatch } from './local-watch.js';
import { receiveToFile } from './tls-download.js';
import { sendFile } from './upload-file.js';
import { UploadWatch } from './upload-watch.js';
import { abortable, delay, replyWithin } from './waits.js';

export type { DataState } from './data-endpoint.js';

/**
 * One transfer command with its data connection (opened by data-endpoint.ts, secured by
 * data-tls.ts). Under PROT P the client is the TLS client and resumes the control connection's TLS session. The TLS handshake
 * starts once the server has answered the transfer command with 1xx (some servers drop a data
 * connection whose ClientHello arrives before the command), or after a short grace period (for
 * servers that finish the handshake before they answer). A transfer is done only when the data
 * stream has ended AND the final 2xx reply has arrived. Aborting sends ABOR and reads both the
 * transfer's reply and ABOR's (426 + 226, 226 + 426, or 226 + 225), whatever their order.
 *
 * A data connection given up before its data is through ends with a TCP reset (data-reset.ts): the
 * transfer gives it up only through `giveUp()`, and resets it before pipeline() destroys it.
 */

export interface DataOptions {
  readonly mode: 'passive' | 'active';
  /** PROT P: data connections use TLS. */
  readonly protect: boolean;
  /** Base TLS options for data connections (servername, ca, versions…); never rejects by itself. */
  readonly tlsOptions: tls.ConnectionOptions;
  /** Certificate checks off (--insecure): data certificates are not compared either. */
  readonly insecure: boolean;
  readonly connectTimeoutMs: number;
  /** A data connection without any traffic for this long is a stalled transfer. */
  readonly dataTimeoutMs: number;
  /** How long to wait for the 1xx reply before starting the data TLS handshake anyway. */
  readonly tlsGraceMs?: number;
}

export type TransferBody =
  | {
      readonly direction: 'download';
      readonly sink: Writable;
      /** End the sink when the data ends (default true; false for e.g. stdout). */
      readonly end?: boolean;
    }
  | { readonly direction: 'upload'; readonly source: Readable }
  /** A local file from `start` on, sent from reused buffers (upload-file.ts). */
  | { readonly direction: 'upload'; readonly file: { readonly handle: FileHandle; readonly start: number } };

export interface TransferRequest {
  /** The transfer command line, e.g. `RETR name`, `STOR name`, `MLSD dir`, `LIST`. */
  readonly command: string;
  readonly body: TransferBody;
  readonly signal?: AbortSignal;
  /** Called with the running byte count as data flows. */
  readonly onBytes?: (bytes: number) => void;
  /** Called with the 1xx reply (e.g. to read a size from `150 … (1234 bytes)`). */
  readonly onPreliminary?: (r: Reply) => void;
  /** The body's stream when the caller gave it, watched since the call (else watched from here). */
  readonly local?: LocalWatch;
  /** A download's size once known (asked when its data starts): a byte more fails it at once. */
  readonly size?: () => number | undefined;
  /** A 2xx without a 1xx (no data connection) is a protocol error: RETR, where data must come. */
  readonly dataRequired?: boolean;
}

export interface TransferResult {
  /** The final 2xx reply. */
  readonly reply: Reply;
  readonly bytes: number;
  /** Whether the data connection resumed the control TLS session (undefined without TLS). */
  readonly sessionReused: boolean | undefined;
}

/** A final reply that ends a transfer in failure: anything but 2xx (no transfer command takes a 3xx). */
function failed(r: Reply): boolean {
  return isPositiveIntermediate(r) || isNegative(r);
}

/** After ABOR, how long a second reply may take when the first was a 226 (Pure-FTPd sends only one). */
const ABORT_GRACE_MS = 1500;

/**
 * Runs one transfer command with its data connection. Throws ReplyError for a refusal or a failed
 * transfer (with the reply), FerryError ERR_DATA_CONNECTION / ERR_TLS for data connection problems,
 * ERR_ABORTED when `signal` aborted it, LocalError when the local stream failed (it aborts the
 * transfer as the signal would).
 */
export async function runTransfer(
  control: ClientControlConnection,
  o: DataOptions,
  state: DataState,
  req: TransferRequest,
): Promise<TransferResult> {
  const watch = req.local ?? watchBody(req.body);
  const signal = watch
    ? AbortSignal.any(req.signal ? [req.signal, watch.signal] : [watch.signal])
    : req.signal;
  try {
    if (signal?.aborted) throw abortedError(signal);
    const endpoint =
      o.mode === 'active'
        ? await openActive(control, state, o.connectTimeoutMs)
        : await openPassive(control, state, o.connectTimeoutMs, signal);
    try {
      return await new Transfer(control, o, req, endpoint, signal, watch).run();
    } finally {
      endpoint.close();
    }
  } catch (err) {
    // Our side failed (a full disk, a closed stdout): the server's 426 is only its consequence.
    if (watch?.failure) throw localError(watch.failure);
    throw err;
  } finally {
    if (watch !== req.local) watch?.stop();
  }
}

/** The body's stream (the sink or the source) watched from now on, unless the caller's was already. */
function watchBody(body: TransferBody): LocalWatch | undefined {
  if (body.direction === 'download') return new LocalWatch(body.sink, 'download');
  return 'source' in body ? new LocalWatch(body.source, 'upload') : undefined;
}

class Transfer {
  /** The control read in progress (first the 1xx, then the final reply). */
  private pending: Promise<Reply> | undefined;
  /** The transfer's final reply, once the data has started: 1xx replies before it skipped. */
  private final: Promise<Reply> | undefined;
  private commandSent = false;
  private finalReceived = false;
  /** The data connection: its TLS socket from the moment it is made (PROT P), else `raw`. */
  private data: Duplex | undefined;
  /** The data connection's TCP socket (under TLS, the socket the TLS socket runs on). */
  private raw: net.Socket | undefined;
  /** The data connection's TLS handshake is through. */
  private secured = false;
  private bytes = 0;
  /** The TLS session data connections resume (PROT P). */
  private session: Buffer | undefined;
  /** The data connection's TLS handshake, once started. */
  private handshake: Promise<tls.TLSSocket> | undefined;
  /** Why the data connection was given up, when a reason came with it (a lost control connection). */
  private gaveUpWith: Error | undefined;
  /** The read begun after the 1xx while the server was to connect (active mode), for step 3. */
  private afterFirst: Promise<Reply> | undefined;

  /**
   * @param signal The caller's signal, or the local stream's failure: either aborts the transfer.
   */
  constructor(
    private readonly control: ClientControlConnection,
    private readonly o: DataOptions,
    private readonly req: TransferRequest,
    private readonly endpoint: Endpoint,
    private readonly signal: AbortSignal | undefined,
    private readonly local: LocalWatch | undefined,
  ) {}

  private read(timeoutMs: number | false): Promise<Reply> {
    const p = this.control.read(timeoutMs);
    this.pending = p;
    p.catch(() => {});
    return p;
  }

  async run(): Promise<TransferResult> {
    const signal = this.signal;
    // A data connection in its TLS handshake is given up by sendAbort(), once it is through.
    const onAbort = (): void => {
      if (!this.handshaking()) this.giveUp(abortedError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.steps();
    } catch (err) {
      if (signal?.aborted) {
        await this.sendAbort();
        throw abortedError(signal);
      }
      // The server neither connected nor answered (active mode): ABOR takes its transfer back, so
      // that the connection's next command gets a reply of its own.
      if (err instanceof ActiveTimeoutError) await this.sendAbort();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.giveUp();
    }
  }

  private async steps(): Promise<TransferResult> {
    const { control, o, req, signal } = this;
    const session = o.protect ? control.dataSession() : undefined;
    this.session = session;
    control.write(req.command);
    this.commandSent = true;
    const verb = req.command; // for messages: `RETR name: 550 …`

    // 1. The 1xx (or a refusal). Without it after a grace period, start TLS anyway.
    let first: Reply | undefined;
    const firstP = this.read(control.replyTimeoutMs);
    const grace = delay(o.protect ? (o.tlsGraceMs ?? 1000) : 0);
    const early = await abortable(Promise.race([firstP, grace.promise.then(() => undefined)]), signal);
    grace.cancel();
    if (early) first = early;
    if (first && !isPreliminary(first)) return this.withoutData(first, undefined);
    if (first) req.onPreliminary?.(first);

    // 2. The data connection (active: the server connects now; its final reply first, a 425 that
    // it could not, ends the wait at once), then TLS.
    const connected = await abortable(this.serverConnects(first ? undefined : firstP), signal);
    if ('reply' in connected) return this.withoutData(connected.reply, undefined);
    const raw = connected.socket;
    this.raw = raw;
    let stalled: FerryError | undefined;
    raw.setTimeout(o.dataTimeoutMs);
    raw.on('timeout', () => {
      stalled = stallError(o.dataTimeoutMs);
      this.giveUp(stalled);
    });
    let data: Duplex = raw;
    let secured: tls.TLSSocket | undefined;
    let sessionReused: boolean | undefined;
    this.data = raw;
    if (o.protect) {
      const sock = await abortable(this.startTls(raw), signal);
      data = sock;
      secured = sock;
      sock.on('error', () => {});
      sessionReused = sock.isSessionReused();
      if (!sessionReused) control.info('The data connection did not resume the control TLS session.');
      if (!o.insecure) checkDataCertificate(control, sock);
    }
    if (!first) {
      first = await abortable(firstP, signal);
      if (!isPreliminary(first)) return this.withoutData(first, sessionReused);
      req.onPreliminary?.(first);
    }

    // 3. Data and the final reply (past any 1xx mark), together. An error reply during the transfer
    // stops the data; so does the control connection's end (nothing could tell how it went).
    const finalP = this.nextFinal(this.afterFirst ?? this.read(false));
    this.final = finalP;
    let finalReply: Reply | undefined;
    finalP.then(
      (r) => {
        finalReply = r;
        this.finalReceived = true;
        if (failed(r)) this.giveUp(new ReplyError(r.code, replyLine(r), verb));
      },
      (err: unknown) => this.giveUp(err instanceof Error ? err : new Error(String(err))),
    );
    // Bytes are counted by a 'data' listener beside the pipe (no Transform for that: one hop less per
    // chunk; a download of known size gets one only to stop at its size, capped()).
    const onData = (chunk: Buffer | number): void => {
      this.bytes += typeof chunk === 'number' ? chunk : chunk.length;
      req.onBytes?.(this.bytes);
    };
    const body = req.body;
    this.local?.watchData([raw, data]);
    const stopResetting = resetWhenPipelineFails(raw, data);
    let watch: UploadWatch | undefined;
    try {
      if (body.direction === 'download') {
        const size = req.size?.();
        const toFile =
          secured && body.sink instanceof FileSink && body.end !== false
            ? receiveToFile(secured, body.sink, onData, size)
            : undefined;
        if (toFile) await toFile;
        else {
          data.on('data', onData);
          // Transforms end even with `end: false`: only the sink is left open.
          const streams = size === undefined ? [data] : [data, capped(size)];
          await pipeline([...streams, body.sink], { end: body.end ?? true });
        }
      } else {
        // The socket's idle timer cannot tell a slow server from a stalled one (upload-watch.ts).
        raw.setTimeout(0);
        watch = new UploadWatch(
          raw,
          data,
          () => this.bytes,
          o.dataTimeoutMs,
          (waitingOnSource) => {
            // The caller's stream gave nothing more: the local side's failure, aborted with ABOR
            // (the server is fine, the connection stays); a file read from disk is not watched so.
            if (waitingOnSource && 'source' in body && this.local)
              return this.local.failWith(sourceStallError(o.dataTimeoutMs));
            stalled = stallError(o.dataTimeoutMs);
            this.giveUp(stalled);
          },
          () => data.destroy(),
        );
        // Keep reading (TLS 1.3 tickets, close_notify) so closing never turns into a TCP reset.
        data.resume();
        if ('source' in body) {
          const check = byteCheck(body.source, (what) => this.notBytes(what));
          (check ?? body.source).on('data', onData);
          await pipeline(check ? [body.source, check, data] : [body.source, data]);
        } else {
          await sendFile(body.file.handle, body.file.start, data, (n) => onData(n));
          // The end: close_notify (under TLS), then FIN; an error before 'finish' fails the upload.
          await finished(data.end(), { readable: false });
        }
        // The bytes left are the kernel's to send, as fast as the server reads them; it closes the
        // data connection once it has them all.
        watch.end();
        await closed(data);
        if (stalled) throw stalled;
      }
    } catch (err) {
      // The caller's abort or our side's failure (a full disk, a closed stdout): run() sends ABOR at
      // once. Some servers keep the transfer open until ABOR (Pure-FTPd): waiting for its reply
      // first waited out the reply timeout, and the connection was lost.
      if (signal?.aborted) throw abortedError(signal);
      // The transfer's reply, read whatever failed (no later command may take it): the server's
      // account of what went wrong. A stalled server is given up at once, its connection with it (a
      // reply it sent later could not be told from the next command's).
      const r = finalReply ?? (stalled ? undefined : await this.settle(finalP));
      if (r && failed(r)) throw new ReplyError(r.code, replyLine(r), verb);
      if (stalled) {
        if (!finalReply) control.destroy(stalled);
        throw stalled;
      }
      const cause = whyDestroyed(err, this.gaveUpWith, [data, raw]);
      if (cause instanceof FerryError) throw cause;
      throw dataConnectionError(
        `The data connection failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause,
      );
    } finally {
      watch?.stop();
      stopResetting();
    }
    const r = await abortable(replyWithin(this.control, finalP), signal);
    if (failed(r)) throw new ReplyError(r.code, replyLine(r), verb);
    return { reply: r, bytes: this.bytes, sessionReused };
  }

  /**
   * The data connection, or the transfer command's final reply if it comes first. Passive: the
   * connection is there already. Active: the server connects now, and its 425 (it could not: NAT, a
   * firewall) or any other final reply ends the wait at once, with the 1xx before it or without;
   * `firstP` is the reply to the command when it has not come yet.
   */
  private async serverConnects(
    firstP: Promise<Reply> | undefined,
  ): Promise<{ readonly socket: net.Socket } | { readonly reply: Reply }> {
    const socket = this.endpoint.connected.then((s) => ({ socket: s }));
    if (!this.endpoint.active) return socket;
    let next = firstP ?? this.read(false);
    for (;;) {
      const won = await Promise.race([socket, next.then((r) => ({ reply: r }))]);
      if ('socket' in won) {
        if (next !== firstP) this.afterFirst = next;
        return won;
      }
      if (!isPreliminary(won.reply)) return won;
      // The 1xx (read again from firstP by the caller), or a later one, skipped as nextFinal() does.
      next = this.read(false);
    }
  }

  /**
   * The transfer command answered with no 1xx: a refusal, or done without data (a protocol error
   * where data must come: a 226 to RETR would leave the local file as it was, as if written).
   * Active mode, before the server connected: a 425 says what to do (activeFailure).
   */
  private withoutData(r: Reply, sessionReused: boolean | undefined): TransferResult {
    const verb = this.req.command;
    const active = this.endpoint.active;
    if (failed(r) && active && !active.accepted) throw activeFailure(r, verb, active);
    if (failed(r)) throw new ReplyError(r.code, replyLine(r), verb);
    if (this.req.dataRequired)
      throw new FerryError('ERR_PROTOCOL', `${verb}: the server answered ${replyLine(r)} before any data.`);
    return { reply: r, bytes: 0, sessionReused };
  }

  /** A chunk of the put() stream that is not bytes: the local side's failure, which aborts the upload. */
  private notBytes(what: string): Error {
    const e = new Error(`The stream given to put() gave ${what}, not bytes (a Buffer or a string).`);
    this.local?.failWith(e);
    return e;
  }

  /** Under PROT P, the data connection's TLS handshake is not through yet (or not started). */
  private handshaking(): boolean {
    return this.o.protect && !this.secured;
  }

  /** TLS on the data connection; its TLS socket is the data connection from now on. */
  private startTls(raw: net.Socket): Promise<tls.TLSSocket> {
    // Where nothing else tells where the data ends (a listing, a download of unknown size), only the
    // server's close_notify does: a bare FIN (an attacker's) must not pass for the end.
    const closeNotify = this.req.body.direction === 'download' && this.req.size?.() === undefined;
    const sock = startDataTls(raw, this.o.tlsOptions, this.session, closeNotify);
    this.data = sock;
    this.handshake = dataHandshake(raw, sock, this.o.connectTimeoutMs).then((s) => {
      this.secured = true;
      return s;
    });
    this.handshake.catch(() => {});
    return this.handshake;
  }

  /** Ends the data connection, if there is one: a reset unless its data is through (data-reset.ts). */
  private giveUp(err?: Error): void {
    if (!this.raw || !this.data) return;
    if (!this.data.destroyed) this.gaveUpWith ??= err;
    giveUp(this.raw, this.data, err);
  }

  /** The reply if it comes within the reply timeout, else undefined (the connection is closed). */
  private async settle(p: Promise<Reply>): Promise<Reply | undefined> {
    try {
      return await replyWithin(this.control, p);
    } catch {
      return undefined;
    }
  }

  /**
   * ABOR, then the replies. Servers differ: vsftpd and pyftpdlib answer 426 (the transfer) then
   * 226/225 (ABOR); ProFTPD 226 (ABOR) then 426; Pure-FTPd one 226 for both. So: an error reply is
   * the transfer's and ABOR's reply follows; a 226 may be alone, so the next one gets a short grace
   * (a later straggler is dropped before the next command by ClientControlConnection.write). The
   * transfer's 1xx may come before or after ABOR went out: 1xx replies are skipped wherever they are.
   */
  private async sendAbort(): Promise<void> {
    if (!this.commandSent || this.control.failure || this.finalReceived) {
      // Nothing to abort (no command, or the transfer was over).
      this.giveUp();
      this.endpoint.reset();
      return;
    }
    try {
      this.control.write('ABOR');
      // The transfer command's final reply (or, from Pure-FTPd, the only one for both).
      const first = replyWithin(
        this.control,
        this.final ?? this.nextFinal(this.pending ?? this.control.read(false)),
      );
      first.catch(() => {});
      await this.secureBeforeReset(first);
      // The data connection goes before any wait: a server waiting on it (for its TLS handshake, for
      // its data) would answer nothing else.
      this.giveUp();
      this.endpoint.reset();
      const r = await first;
      if (r.code === Code.DataOpenNoTransfer) return;
      if (failed(r)) {
        await replyWithin(this.control, this.nextFinal(this.control.read(false)));
        return;
      }
      const grace = delay(ABORT_GRACE_MS);
      const next = this.control.read(false);
      next.catch(() => {});
      const second = await Promise.race([next, grace.promise.then(() => undefined)]);
      grace.cancel();
      if (!second) this.control.abandonRead();
    } catch {
      // replyWithin closed the connection: its replies can no longer be matched.
    } finally {
      this.endpoint.reset();
    }
  }

  /** The next reply that is not a 1xx (110 restart marks, progress), from `p` on. */
  private async nextFinal(p: Promise<Reply>): Promise<Reply> {
    let r = await p;
    while (isPreliminary(r)) r = await this.read(false);
    return r;
  }

  /**
   * Under PROT P, a data connection dropped before the server's TLS handshake is through ends the
   * whole session on some servers (vsftpd: a failed data SSL_accept is fatal, "500 OOPS" in clear on
   * the control connection). So an abort that comes before the handshake completes it first, and
   * lets the server see it through: a download until its first data arrives (the server is sending:
   * a reset now fails its transfer, not its handshake), an upload by ending it (close_notify, FIN:
   * nothing was sent, so the server stores nothing more than STOR created). Each wait ends early
   * when the server answers the transfer command (it gave the connection up itself), and after the
   * connect timeout at most.
   */
  private async secureBeforeReset(reply: Promise<Reply>): Promise<void> {
    if (!this.handshaking()) return;
    const handshake =
      this.handshake ??
      this.endpoint.connected.then((raw) => {
        this.raw = raw;
        return this.startTls(raw);
      });
    const limit = delay(this.o.connectTimeoutMs);
    const seen = async (): Promise<void> => {
      const sock = await handshake;
      if (this.req.body.direction === 'download') await once(sock, 'data');
      else await finished(sock.end());
    };
    await Promise.race([seen().catch(noop), reply.then(noop, noop), limit.promise]);
    limit.cancel();
    // A handshake that completes after the reset still ends with it.
    void handshake.then((sock) => sock.destroy(), noop);
  }
}

function noop(): void {}

/** Resolves once `sock` has closed. */
function closed(sock: Duplex): Promise<void> {
  if (sock.closed) return Promise.resolve();
  return new Promise((resolve) => sock.once('close', () => resolve()));
}

/**
 * A write to a data connection destroyed under it fails with Node's `Cannot call write after a
 * stream was destroyed`, which says nothing of why: the error it was destroyed with does (the
 * control connection's loss, a reset).
 */
function whyDestroyed(err: unknown, gaveUpWith: Error | undefined, streams: readonly Duplex[]): unknown {
  if ((err as { code?: unknown } | null)?.code !== 'ERR_STREAM_DESTROYED') return err;
  return gaveUpWith ?? streams.find((s) => s.errored)?.errored ?? err;
}

function stallError(ms: number): FerryError {
  return dataConnectionError(`The data connection stalled: no traffic for ${ms} ms.`);
}

function sourceStallError(ms: number): Error {
  return new Error(
    `The stream given to put() gave no data for ${ms} ms (dataTimeoutMs): the upload was aborted.`,
  );
}

/** Passes `limit` bytes on; one more fails the stream at once, that chunk not passed on. */
function capped(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > limit ? overrunError(limit) : null, seen > limit ? undefined : chunk);
    },
  });
}
