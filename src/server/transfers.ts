import { DataConnectionError, replyForError } from '../errors.js';
import type { Logger } from '../logger.js';
import { allowedAfterPreliminary, Code } from '../protocol/codes.js';
import { reply, type Reply } from '../protocol/reply.js';
import { abandonOnAbort } from './abandon-on-abort.js';
import { LINGER_MS } from './graceful-end.js';
import type { DataEndpoint, DataSocket, Direction } from './data-connection.js';
import { abandonedBefore, dataCut } from './data-cut.js';
import { refusedForGood } from './refused-for-good.js';
import type { TransferDirection, TransferResult } from './metrics.js';
import type { TransferCut } from './transfer-cuts.js';
import { TransferPace } from './transfer-pace.js';

/** Commands whose data flows from the server; any other is treated as an upload. */
const SENDING: ReadonlySet<string> = new Set(['RETR', 'LIST', 'NLST', 'MLSD']);

/** What a transfer's work sees: the signal that ABOR or a disconnect fires, and a byte counter. */
export interface TransferProgress {
  readonly signal: AbortSignal;
  /** Adds to the count STAT and the transfer log report. */
  count(bytes: number): void;
  /** Waits for `turn` (a HASH's slot): meanwhile STAT says so and QUIT does not wait for it. */
  waitTurn<T>(turn: Promise<T>): Promise<T>;
}

/** The transfer in flight, as ABOR, STAT and QUIT see it. */
export interface ActiveTransfer {
  readonly command: string;
  /** The file's path as the client sees it (none for listings and local commands). */
  readonly path: string | undefined;
  /** None for a local command (HASH). */
  readonly direction: TransferDirection | undefined;
  readonly bytes: number;
  /** Its rate and the time since its bytes last moved (`ferry who`). */
  readonly pace: Pick<TransferPace, 'bytesPerSecond' | 'sinceProgressSeconds'>;
  /** Still waiting its turn (TransferProgress.waitTurn): nothing started yet. */
  readonly queued: boolean;
  /** `cut`: why, when known (the first one given stands). */
  abort(cut?: TransferCut): void;
  /** Resolves once the transfer's final reply has been written (see Transfers.replied). */
  readonly done: Promise<void>;
}

/** A finished transfer, for the metrics and the transfer log (xferlog). */
export interface TransferOutcome {
  readonly command: string;
  readonly direction: TransferDirection;
  /** The file's path as the client sees it (none for listings). */
  readonly path: string | undefined;
  /** Where in the file it began (REST n + RETR or STOR): 0 from the start. */
  readonly offset: number;
  /** The bytes sent or received (from `offset` on). */
  readonly bytes: number;
  readonly ms: number;
  readonly result: TransferResult;
  /** The final reply's code: 226, or 426 (aborted), 451, 552… (failed). */
  readonly reply: number;
  /** Why it failed or was aborted, as its `transfer` log line says (`ABOR by the client`). */
  readonly reason?: string;
}

export interface TransferIo {
  /** Writes a reply at once (the 150 before the data flows). */
  preliminary(r: Reply): void;
  readonly logger: Logger;
  /** The logged-in user, for the transfer's log line (a hosting admin greps by account). */
  user?(): string | undefined;
  /** Told of every transfer once its final reply is known. */
  finished?(t: TransferOutcome): void;
  /** Told of an error about to become the transfer's reply (quota metrics). */
  errorReplied?(err: unknown, command: string): void;
}

/**
 * A transfer stopped by the server's own side (its storage's stream failed, a listing could not be
 * made) while the data connection was whole: 451 saying what failed, not the broken network's 426.
 * `cause` is the storage's error; one it knows (a StorageError) keeps its own reply.
 */
export class StorageFailure extends Error {
  /** `failed`: what the server could not do, for the reply (`read the file`). */
  constructor(failed: string, cause: unknown) {
    super(`the server could not ${failed}`, { cause });
    this.name = 'StorageFailure';
  }
}

const LISTING: ReadonlySet<string> = new Set(['LIST', 'NLST', 'MLSD']);

function directionOf(command: string): TransferDirection {
  if (LISTING.has(command)) return 'listing';
  return SENDING.has(command) ? 'download' : 'upload';
}

function resultOf(r: Reply): TransferResult {
  if (r.code === Code.ClosingDataSuccess) return 'ok';
  return r.code === Code.TransferAborted ? 'aborted' : 'failed';
}

class Running implements ActiveTransfer, TransferProgress {
  readonly #controller = new AbortController();
  readonly signal = this.#controller.signal;
  readonly done: Promise<void>;
  bytes = 0;
  readonly pace = new TransferPace();
  queued = false;
  finish!: () => void;
  /** Why it failed (the error's message), for the transfer line: a quota and a full disk are both 552. */
  reason: string | undefined;
  /** The system's name of why (ECONNREFUSED, ETIMEDOUT), for the transfer line. */
  err: string | undefined;
  /** Why it was aborted, when told (ABOR, an account removed, a shutdown's grace over). */
  cut: TransferCut | undefined;
  /** What ends its data connection once its reply is out (a failure's: see Transfers.run). */
  readonly afterReply: (() => void)[] = [];

  constructor(
    readonly command: string,
    readonly path: string | undefined = undefined,
    readonly direction: TransferDirection | undefined = undefined,
  ) {
    this.done = new Promise<void>((resolve) => (this.finish = resolve));
  }

  count(bytes: number): void {
    this.bytes += bytes;
    this.pace.add(bytes);
  }

  async waitTurn<T>(turn: Promise<T>): Promise<T> {
    this.queued = true;
    try {
      return await turn;
    } finally {
      this.queued = false;
    }
  }

  abort(cut?: TransferCut): void {
    if (!this.signal.aborted) this.cut ??= cut;
    this.#controller.abort();
  }

  /** The 426 of an abort, saying why when the server cut it; the reason kept for the log. */
  aborted(): Reply {
    if (!this.cut) return reply(Code.TransferAborted, 'Transfer aborted.');
    this.reason = this.cut.reason;
    if (!this.cut.byServer) return reply(Code.TransferAborted, 'Transfer aborted.');
    return reply(Code.TransferAborted, `Transfer aborted: ${this.cut.reason}.`);
  }
}

/**
 * The one home of a transfer's choreography, one per control connection: take the endpoint that
 * PASV/EPSV/PORT/EPRT prepared, write 150, open the data connection (425, or 522 saying why TLS
 * was refused), run the work, and answer 226 only once the work confirms the bytes are delivered
 * or durable; 426 when aborted or cut, 451 when the server's own side failed (StorageFailure). The
 * final reply is returned for the dispatcher to write; once it has, `replied()` releases ABOR
 * (whose 226 must follow the 426).
 */
export class Transfers {
  #running: Running | undefined;
  #unreplied: Running | undefined;
  /** Endpoints of commands refused before their 150, ended once the refusal is out. */
  #refused: DataEndpoint[] = [];

  constructor(private readonly io: TransferIo) {}

  /** The transfer in flight, if any. */
  get active(): ActiveTransfer | undefined {
    return this.#running;
  }

  async run(
    endpoint: DataEndpoint | undefined,
    command: string,
    opening: string,
    work: (sock: DataSocket, t: TransferProgress) => Promise<void>,
    path?: string,
    offset = 0,
  ): Promise<Reply> {
    if (!endpoint) return reply(Code.CantOpenData, 'Use PORT, EPRT, PASV or EPSV first.');
    const t = new Running(command, path, directionOf(command));
    this.#running = t;
    const started = Date.now();
    let ok = false;
    try {
      const r = await this.#choreography(endpoint, t, opening, work);
      ok = r.code === Code.ClosingDataSuccess;
      const ms = Date.now() - started;
      const user = this.io.user?.();
      // Cut by the server (an account removed, a shutdown): worth a warning; by the client, not.
      this.io.logger[t.cut?.byServer && r.code === Code.TransferAborted ? 'warn' : 'info'](
        {
          transfer: command,
          ...(user !== undefined && { user }),
          ...(path !== undefined && { path }),
          // A resumed transfer's bytes are those from its offset: without it, a short complete one.
          ...(offset > 0 && { offset }),
          bytes: t.bytes,
          ms,
          reply: r.code,
          ...(t.reason !== undefined && { reason: t.reason }),
          ...(t.err !== undefined && { err: t.err }),
        },
        'transfer',
      );
      const direction = directionOf(command);
      this.io.finished?.({
        command,
        direction,
        path,
        offset,
        bytes: t.bytes,
        ms,
        result: resultOf(r),
        reply: r.code,
        ...(t.reason !== undefined && { reason: t.reason }),
      });
      return r;
    } finally {
      // A complete transfer's connection ends before its 226 (ftplib reads our close_notify first);
      // a failed one's after its reply, else the client may see its end (or a reset) first, and
      // take the reply for another command's (curl read a STOR's 553 as its next PASV's).
      if (ok) endpoint.close();
      else t.afterReply.push(() => endpoint.close());
      this.#running = undefined;
      this.#unreplied = t;
    }
  }

  /**
   * A transfer command refused before its 150: its data connection (maybe accepted already, its
   * client's ClientHello unread) is ended once the refusal is out, not before it (see run).
   */
  refused(endpoint: DataEndpoint | undefined): void {
    if (endpoint) this.#refused.push(endpoint);
  }

  /**
   * A long command without a data connection (HASH reading a whole file): while `work` runs it is
   * the transfer in flight, so ABOR stops it (`426 HASH aborted.`, then ABOR's 226, as RFC 959 has
   * for a command in progress), STAT reports it and QUIT waits for its reply. Not a transfer for the
   * metrics or the transfer log; other errors are the command's own.
   */
  async runLocal(command: string, work: (t: TransferProgress) => Promise<Reply>): Promise<Reply> {
    const t = new Running(command);
    this.#running = t;
    try {
      return await work(t);
    } catch (err) {
      if (t.signal.aborted) return reply(Code.TransferAborted, `${command} aborted.`);
      throw err;
    } finally {
      this.#running = undefined;
      this.#unreplied = t;
    }
  }

  /**
   * The dispatcher wrote the reply of the command that ran the last transfer. Returns what ends its
   * data connection (a failed or refused transfer's), to be run once that reply has been handed to
   * TCP: ended when only queued, a clear connection's FIN overtook a reply whose TLS record was
   * still waiting for the 150's to be written.
   */
  replied(): (() => void) | undefined {
    const t = this.#unreplied;
    this.#unreplied = undefined;
    const ends = t?.afterReply.splice(0) ?? [];
    const refused = this.#refused.splice(0);
    t?.finish();
    // Most replies end nothing: no callback, so writing them costs no listener on the socket.
    if (ends.length === 0 && refused.length === 0) return undefined;
    const run = (): void => {
      clearTimeout(fallback);
      for (const end of ends.splice(0)) end();
      for (const endpoint of refused.splice(0)) endpoint.close();
    };
    // A client that stops reading its replies must not hold the connection (a failed upload's still
    // read and dropped) for the control connection's life: it ends after LINGER_MS regardless.
    const fallback = setTimeout(run, LINGER_MS).unref();
    return run;
  }

  /** The control connection closed (or the server destroyed it): stop the transfer in flight. */
  abort(cut?: TransferCut): void {
    this.#running?.abort(cut);
  }

  async #choreography(
    endpoint: DataEndpoint,
    t: Running,
    opening: string,
    work: (sock: DataSocket, t: TransferProgress) => Promise<void>,
  ): Promise<Reply> {
    const direction: Direction = SENDING.has(t.command) ? 'send' : 'receive';
    await endpoint.started(direction);
    this.io.preliminary(reply(Code.FileStatusOkOpeningData, opening));
    let sock: DataSocket;
    try {
      sock = await endpoint.open(t.signal, direction);
    } catch (err) {
      if (t.signal.aborted) return t.aborted();
      this.io.errorReplied?.(err, t.command);
      t.reason = err instanceof Error ? err.message : String(err);
      if (err instanceof DataConnectionError) t.err = err.errno;
      return replyForError(err).reply; // 425 saying why, or 522 saying why TLS was refused
    }
    // The idle timeout fired while storage, not the client, held the transfer up (a gateway that
    // stopped answering): storage is told to stop (an S3 request not yet sent is never sent, one in
    // flight is aborted), and the transfer fails as storage's (451).
    const stalled = sock.idle?.storageStalled;
    const stop = (): void => t.abort();
    stalled?.addEventListener('abort', stop, { once: true });
    const cut = dataCut(sock.stream, direction, stalled);
    let abandoned = false;
    try {
      // Storage stuck after the 150 (a frozen mount) must not hold the session once the data
      // connection is gone: the client gets its 426, and what storage does later is ignored (an
      // upload's source is destroyed: it cannot be committed).
      const early = abandonedBefore(sock.stream, direction);
      await abandonOnAbort(early ? Promise.reject(early) : work(sock, t), {
        signal: cut.signal,
        abandoned: () => {
          abandoned = true;
          this.io.logger.warn(
            { command: t.command },
            'storage did not stop when the data connection was cut: abandoned (its later result is ignored)',
          );
        },
      });
      return reply(Code.ClosingDataSuccess, 'Transfer complete.');
    } catch (err) {
      // Ended after the reply (see run), which the client may then read before the connection's
      // end. An upload's with our close_notify and FIN, what the client still sends dropped:
      // ftplib waits for the close_notify (SSL unwrap) of an upload that failed after its end
      // (552, 451) before reading the reply, and a reset broke that. A download's without
      // close_notify, which says its bytes are all there (RFC 8446 6.1): a bare FIN (or a
      // reset, bytes unread), so that a client not reading the reply cannot take a short file.
      // Gone already if cut.
      t.afterReply.push(direction === 'send' ? () => sock.destroy() : () => sock.close());
      if (stalled?.aborted) {
        const why: unknown = stalled.reason;
        this.io.errorReplied?.(why, t.command); // the `storage unavailable` warning
        return replyForError(why).reply;
      }
      // The data timeout cut the client's connection: say so, not the broken stream it left.
      const idle = sock.idle?.idleCut;
      if (idle !== undefined && !t.signal.aborted) {
        t.reason = `data connection idle for ${idle.seconds} s (${idle.limit})`;
        t.err = 'ETIMEDOUT';
        this.io.logger.warn({ err: t.reason, command: t.command }, 'transfer failed');
        return reply(
          Code.TransferAborted,
          `Data connection idle for ${idle.seconds} s (${idle.limit}); transfer aborted.`,
        );
      }
      const failure = err instanceof StorageFailure ? err : undefined;
      const cause: unknown = failure ? failure.cause : err;
      const { reply: r, unknown } = replyForError(cause);
      t.reason = cause instanceof Error ? cause.message : String(cause);
      // A full quota or disk (552) stays the reason when the client then closed its control connection
      // too (curl does once the data connection is reset): the log and xferlog say why it stopped.
      if (t.signal.aborted && r.code !== Code.ExceededStorage) return t.aborted();
      this.io.errorReplied?.(cause, t.command);
      // A listing that fails once its 150 is out is 451 whatever the storage said: a refused name
      // would read as the client's fault.
      const listingFailed = failure !== undefined && LISTING.has(t.command);
      if (!unknown && !listingFailed) return afterPreliminary(r, cause);
      const logged = { err: cause instanceof Error ? cause.message : String(cause), command: t.command };
      if (failure) {
        this.io.logger.warn(logged, `transfer failed: ${failure.message}`);
        return reply(Code.LocalError, `Transfer aborted: ${failure.message}.`);
      }
      // Other stream errors (reset, timeout) mean the data connection broke.
      t.reason = `data connection closed: ${logged.err}`;
      this.io.logger.warn(logged, 'transfer failed');
      return reply(Code.TransferAborted, 'Data connection closed; transfer aborted.');
    } finally {
      cut.release();
      stalled?.removeEventListener('abort', stop);
      sock.idle?.stop();
      // Told it failed, the client must never find the upload made later: storage that wakes up
      // finds its signal aborted (S3 sends no PutObject or CompleteMultipartUpload after it).
      if (abandoned) t.abort();
    }
  }
}

/**
 * A storage's own reply, once the 150 is out: its text kept, its code one RFC 959 allows there: 551
 * for a refusal for good (a write the filesystem's permissions or a read-only mount refused), else
 * 451 (a file gone mid-RETR, 550; a name refused, 553; an append whose file changed, 450).
 */
function afterPreliminary(r: Reply, cause: unknown): Reply {
  if (allowedAfterPreliminary(r.code)) return r;
  return { ...r, code: refusedForGood(cause) ? Code.PageTypeUnknown : Code.LocalError };
}
