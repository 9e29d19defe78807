import { once } from 'node:events';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { FerryError } from '../errors.js';
import { redactCommand } from '../protocol/command.js';
import { Code } from '../protocol/codes.js';
import { clearTextReply, isPreliminary, type Reply } from '../protocol/reply.js';
import { ReplyParser } from '../protocol/reply-parser.js';
import { encodeText } from '../protocol/byte-text.js';
import { ControlChannel } from '../tls/control-tls.js';
import { abortedError, ConnectionError, connectionError, ServerClosingError } from './errors.js';
import { alertText, PROTOCOL_VERSION_ALERT, receivedAlert } from './tls-alert.js';

/**
 * The client's control connection: the TCP socket (through a ControlChannel, so TLS can start and
 * stop on it), the reply parser, and the rule of one exchange at a time. A reply timeout or a
 * protocol violation closes the connection (afterwards replies could no longer be matched to
 * commands); `failure` remembers why it closed, and every later call fails with that reason.
 */

/** What the verbose log shows: commands (PASS/ACCT masked), replies, and notes. */
export type ProtocolEvent =
  | { readonly kind: 'command'; readonly text: string }
  | { readonly kind: 'reply'; readonly reply: Reply }
  | { readonly kind: 'info'; readonly text: string };

export type ProtocolLogger = (event: ProtocolEvent) => void;

export interface ControlOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (implicit FTPS). */
  readonly implicit: boolean;
  /** Options for every TLS handshake on this connection (the `socket` is supplied here). */
  readonly tlsOptions: tls.ConnectionOptions;
  /** Called after each handshake; throws to refuse the server (e.g. CertificateError). */
  readonly verify?: (sock: tls.TLSSocket) => Promise<void>;
  readonly connectTimeoutMs: number;
  readonly replyTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly log?: ProtocolLogger;
  readonly signal?: AbortSignal;
  /** Give a 421 to the reader as a reply (the probe judges it) rather than as the connection's failure. */
  readonly return421?: boolean;
  /** Said after a handshake the server refused for its TLS version (a protocol_version alert). */
  readonly versionHint?: string;
}

interface Waiter {
  resolve(r: Reply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The most replies (and their text, in characters) kept that no read has taken: a server flooding
 * the connection while nothing is awaited (between calls, a pooled connection at rest) ends it,
 * rather than what it sends piling up until the next command. A well-behaved server sends a few at
 * most (a late reply to an abandoned read, a 421).
 */
export const MAX_UNREAD_REPLIES = 100;
const MAX_UNREAD_CHARS = 1024 * 1024;

/** OpenSSL's reasons for a handshake answered by bytes that are no TLS record (an FTP greeting). */
export const NOT_TLS_FIRST = /wrong version number|packet length too long/i;

/** The advice for an implicit FTPS handshake answered in clear: the port is likely explicit FTPS. */
export const EXPLICIT_PORT_HINT =
  'the server does not start with TLS: is this an explicit FTPS port? Use ftpes://';

/**
 * Opens a TCP connection, with a timeout and an abort signal. Fails with a ConnectionError:
 * ERR_CONNECT (with the system code) or ERR_TIMEOUT.
 */
export function connectTcp(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
  what = `Cannot connect to ${host}:${port}`,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal, 'Connecting aborted'));
    const socket = net.connect({ host, port });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (err) {
        socket.on('error', () => {});
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onConnect = (): void => done();
    const onError = (err: Error): void => done(connectionError(what, err, 'ERR_CONNECT'));
    const onAbort = (): void => done(abortedError(signal, 'Connecting aborted'));
    const timer = setTimeout(
      () => done(new ConnectionError(`${what}: no answer within ${timeoutMs} ms.`, { code: 'ERR_TIMEOUT' })),
      timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class ClientControlConnection {
  readonly channel: ControlChannel;
  private readonly parser = new ReplyParser();
  private readonly queue: Reply[] = [];
  /** The text of the replies in `queue`, in characters. */
  private queuedChars = 0;
  private waiter: Waiter | undefined;
  private failed: FerryError | undefined;
  private closing = false;
  private session: Buffer | undefined;
  private ticketMissed = false;
  private peerDer: Buffer | undefined;
  /** Removes the connect signal's listener (see connect()). */
  private unlisten: () => void = () => {};

  private constructor(
    socket: net.Socket,
    private readonly o: ControlOptions,
  ) {
    socket.setNoDelay(true);
    this.channel = new ControlChannel(socket);
    this.channel.on('data', (d: Buffer) => this.onData(d));
    this.channel.on('error', (err: Error) =>
      this.fail(
        this.closing
          ? new FerryError('ERR_CLOSED', 'Connection closed.')
          : connectionError('Control connection failed', err),
      ),
    );
    this.channel.on('close', () =>
      this.fail(
        this.closing
          ? new FerryError('ERR_CLOSED', 'Connection closed.')
          : new ConnectionError('The server closed the control connection.'),
      ),
    );
  }

  /**
   * Connects (and, for implicit FTPS, completes the TLS handshake): within `o.connectTimeoutMs` in
   * all. Does not read the greeting. `o.signal` closes the connection with ERR_ABORTED until
   * loggedIn() is called: it covers the TCP connect, every TLS handshake and every reply of the login.
   */
  static async connect(o: ControlOptions): Promise<ClientControlConnection> {
    const started = Date.now();
    const socket = await connectTcp(o.host, o.port, o.connectTimeoutMs, o.signal);
    const c = new ClientControlConnection(socket, o);
    const signal = o.signal;
    if (signal) {
      const onAbort = (): void => c.fail(abortedError(signal, 'Connecting aborted'));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      c.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    c.info(`Connected to ${o.host}:${o.port}${o.implicit ? ' (implicit FTPS)' : ''}.`);
    try {
      if (o.implicit) await c.startTls(o.connectTimeoutMs - (Date.now() - started));
    } catch (err) {
      c.unlisten();
      throw err;
    }
    return c;
  }

  /** The login is done: the connect signal no longer applies (nor keeps this connection alive). */
  loggedIn(): void {
    this.unlisten();
  }

  /** Why the connection is closed, or undefined while it is usable. */
  get failure(): FerryError | undefined {
    return this.failed;
  }

  get secure(): boolean {
    return this.channel.secure;
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.channel.tlsSocket;
  }

  /** The server's address as seen on the control connection (data connections go there). */
  get remoteAddress(): string {
    return this.channel.socket.remoteAddress ?? this.o.host;
  }

  /** Our address on the control connection (active mode listens there). */
  get localAddress(): string {
    return this.channel.socket.localAddress ?? '127.0.0.1';
  }

  /** The server certificate (DER) of the latest TLS session on this connection, kept after CCC. */
  get serverCertificate(): Buffer | undefined {
    return this.peerDer;
  }

  get host(): string {
    return this.o.host;
  }

  get replyTimeoutMs(): number {
    return this.o.replyTimeoutMs;
  }

  info(text: string): void {
    this.o.log?.({ kind: 'info', text });
  }

  /** A failed handshake as the user reads it: with the likely cause when the error tells it. */
  private handshakeError(err: unknown, byConnect: boolean): FerryError {
    const where = `${this.o.host}:${this.o.port}`;
    const message = err instanceof Error ? err.message : String(err);
    // An FTP reply in clear where the handshake was due: what the server said, not OpenSSL's view.
    const said = clearTextReply(this.channel.handshakeBytes);
    if (said && said.code !== Code.ServiceReady)
      return new ConnectionError(`The server refused the connection: ${said.code} ${said.text}`, {
        cause: err,
      });
    if (this.o.implicit && (said || NOT_TLS_FIRST.test(message)))
      return new FerryError('ERR_TLS', `TLS handshake with ${where} failed (${EXPLICIT_PORT_HINT}).`, {
        cause: err,
      });
    // The server's alert by name and number, as curl says it; OpenSSL's internals stay in `cause`.
    const alert = receivedAlert(message);
    if (alert !== undefined) {
      const hint = alert.number === PROTOCOL_VERSION_ALERT ? this.o.versionHint : undefined;
      return new FerryError(
        'ERR_TLS',
        `TLS handshake with ${where} failed: the server sent a ${alertText(alert)}${hint === undefined ? '' : ` (${hint})`}.`,
        { cause: err },
      );
    }
    if (err instanceof FerryError && err.code === 'ERR_TIMEOUT')
      return byConnect
        ? new ConnectionError(
            `Cannot connect to ${where}: no TLS handshake within ${this.o.connectTimeoutMs} ms (connectTimeoutMs).`,
            { cause: err, code: 'ERR_TIMEOUT' },
          )
        : new FerryError('ERR_TLS', `TLS handshake with ${where}: ${message}`, { cause: err });
    return err instanceof FerryError
      ? err
      : new FerryError('ERR_TLS', `TLS handshake failed: ${message}`, { cause: err });
  }

  /**
   * Runs a TLS handshake on the connection (implicit start, AUTH, implicit REIN) and verifies it.
   * `connectLeftMs`: what connectTimeoutMs leaves (the implicit start), when it ends the handshake
   * before handshakeTimeoutMs would: then a ConnectionError ERR_TIMEOUT.
   */
  async startTls(connectLeftMs?: number): Promise<tls.TLSSocket> {
    this.throwIfFailed();
    // Bytes in clear after the reply that started TLS (234 to AUTH) are nobody's protected word:
    // read as the first replies over TLS, an attacker's `230 ` ahead of the server's `331` would log
    // USER in (STARTTLS injection, CVE-2011-0411). Nothing may be left over, not even part of a reply.
    if (this.parser.inProgress || this.queue.length > 0) {
      const e = new FerryError(
        'ERR_PROTOCOL',
        `The server sent more in clear after the reply that starts TLS (234 to AUTH), before the TLS handshake (${this.queue.length === 0 ? 'part of a reply' : this.queue.length === 1 ? 'a reply' : `${this.queue.length} replies`}); refused: anyone on the path could have added it (STARTTLS injection).`,
      );
      this.fail(e);
      throw e;
    }
    const byConnect = connectLeftMs !== undefined && connectLeftMs < this.o.handshakeTimeoutMs;
    let sock: tls.TLSSocket;
    try {
      sock = await this.channel.startTls({
        role: 'client',
        options: this.o.tlsOptions,
        handshakeTimeoutMs: byConnect ? Math.max(1, connectLeftMs) : this.o.handshakeTimeoutMs,
      });
    } catch (err) {
      // Closed meanwhile (an abort): that is the reason, not what it did to the handshake.
      if (this.failed) throw this.failed;
      const e = this.handshakeError(err, byConnect);
      this.fail(e);
      throw e;
    }
    this.session = undefined;
    this.ticketMissed = false;
    sock.on('session', (s: Buffer) => {
      if (this.channel.tlsSocket !== sock) return;
      this.session = s;
    });
    const cert = sock.getPeerCertificate();
    this.peerDer = cert && 'raw' in cert ? cert.raw : undefined;
    this.info(`TLS established: ${sock.getProtocol() ?? '?'}, ${sock.getCipher().name}.`);
    if (this.o.verify) {
      try {
        await this.o.verify(sock);
        this.throwIfFailed();
      } catch (err) {
        if (this.failed) throw this.failed;
        const e = err instanceof FerryError ? err : new FerryError('ERR_TLS', String(err), { cause: err });
        this.fail(e);
        throw e;
      }
    }
    return sock;
  }

  /**
   * Ends TLS on the control connection (CCC, REIN); TCP stays open. The last TLS session and the
   * server certificate are kept: after CCC, protected data connections still resume that session.
   */
  async stopTls(): Promise<void> {
    this.throwIfFailed();
    this.session ??= this.channel.tlsSocket?.getSession();
    await withTimeout(
      this.channel.stopTls(),
      this.o.handshakeTimeoutMs,
      'Ending TLS on the control connection',
    );
  }

  /**
   * The TLS session data connections should resume. A TLS 1.3 server writes its session tickets as
   * its handshake ends, ahead of any reply in the same stream, and a data connection always follows
   * a reply over TLS (the login's, then EPSV/PASV/EPRT/PORT's): a ticket that has not come by then
   * is not coming (Pure-FTPd sends none), so nothing is waited for.
   */
  dataSession(): Buffer | undefined {
    const sock = this.channel.tlsSocket;
    if (!sock) return this.session; // after CCC: the control connection's last session
    if (this.session) return this.session;
    if (sock.getProtocol() === 'TLSv1.3' && !this.ticketMissed) {
      this.ticketMissed = true; // said once per TLS session
      this.info('The server sent no TLS 1.3 session ticket; the data connection may not resume the session.');
    }
    return sock.getSession();
  }

  /** Gives up waiting for a reply (it will be dropped as stale if it still comes). */
  abandonRead(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.reject(new FerryError('ERR_ABORTED', 'Reply no longer awaited.'));
  }

  /** Sends one command line (no CRLF). Stale unread replies are discarded first. */
  write(line: string): void {
    this.throwIfFailed();
    if (/[\r\n]/.test(line)) {
      throw new FerryError('ERR_USAGE', 'A command or path must not contain a line break.');
    }
    this.queuedChars = 0;
    for (const stale of this.queue.splice(0))
      this.info(`Ignoring an unexpected reply: ${stale.code} ${stale.lines.join(' ')}`);
    const sp = line.indexOf(' ');
    const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    this.o.log?.({ kind: 'command', text: redactCommand(verb, sp < 0 ? '' : line.slice(sp + 1)) });
    // A name from a listing or a URL goes back with the bytes it came with (byte-text.ts).
    this.channel.write(encodeText(`${line}\r\n`));
  }

  /**
   * The next reply (preliminary ones included). `timeoutMs` false: wait without limit (e.g. while a
   * transfer runs); otherwise a missing reply closes the connection (its message names `limitMs`:
   * the whole exchange's limit, of which `timeoutMs` is what is left).
   */
  read(timeoutMs: number | false = this.o.replyTimeoutMs, limitMs = timeoutMs): Promise<Reply> {
    if (this.waiter) {
      return Promise.reject(
        new FerryError('ERR_BUSY', 'Another reply is already awaited on this connection.'),
      );
    }
    const queued = this.queue.shift();
    if (queued) {
      this.queuedChars -= replyChars(queued);
      return Promise.resolve(queued);
    }
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<Reply>((resolve, reject) => {
      const timer =
        timeoutMs === false
          ? undefined
          : setTimeout(
              // The connection is given up: a ConnectionError, as at connect (AUTH TLS unanswered).
              () =>
                this.fail(
                  new ConnectionError(
                    `No reply from ${this.o.host}:${this.o.port} within ${limitMs} ms; connection closed.`,
                    { code: 'ERR_TIMEOUT' },
                  ),
                ),
              timeoutMs,
            );
      this.waiter = { resolve, reject, timer };
    });
  }

  /**
   * The next reply that is not a 1xx, all of them within `timeoutMs` (a greeting): a server may
   * send `120 ready in a while` as often as it likes, but never for longer than that.
   */
  async readFinal(
    timeoutMs: number = this.o.replyTimeoutMs,
    onPreliminary?: (r: Reply) => void,
  ): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    let r = await this.read(timeoutMs);
    while (isPreliminary(r)) {
      onPreliminary?.(r);
      r = await this.read(Math.max(1, deadline - Date.now()), timeoutMs);
    }
    return r;
  }

  /**
   * Sends a command and returns its final (non-1xx) reply, all within the reply timeout (one
   * deadline: a server answering `120 still thinking` for ever does not hold the call for ever);
   * `onPreliminary` sees any 1xx. Transfers read their replies themselves (transfer.ts).
   */
  async request(
    line: string,
    opts: { timeoutMs?: number; onPreliminary?: (r: Reply) => void } = {},
  ): Promise<Reply> {
    this.write(line);
    return this.readFinal(opts.timeoutMs ?? this.o.replyTimeoutMs, opts.onPreliminary);
  }

  /**
   * QUIT (briefly awaiting 221), close_notify, then TCP close. Idempotent; never throws. No QUIT
   * while a reply is awaited: it would be taken for that call's (interrupt() is for a call under way).
   */
  async close(): Promise<void> {
    if (this.failed || this.closing) {
      this.channel.destroy();
      return;
    }
    try {
      if (!this.waiter) {
        this.write('QUIT');
        await this.read(Math.min(this.o.replyTimeoutMs, 3000));
      }
    } catch {
      // closing anyway
    }
    await this.shutDown(this.failed !== undefined);
  }

  /**
   * Closes while a call is under way (between two replies, maybe): no QUIT, whose reply the call
   * could take; its reads and writes fail with ERR_CLOSED from now on. Then close_notify and TCP
   * close, as close(). Idempotent; never throws.
   */
  async interrupt(): Promise<void> {
    if (this.failed || this.closing) {
      this.channel.destroy();
      return;
    }
    this.closing = true;
    this.settle(new FerryError('ERR_CLOSED', 'Connection closed.'));
    await this.shutDown(false);
  }

  /** close_notify (unless the server is `gone`), TCP close; everything after fails with ERR_CLOSED. */
  private async shutDown(gone: boolean): Promise<void> {
    this.closing = true;
    try {
      if (this.channel.secure && !gone) await withTimeout(this.channel.stopTls(), 1000, 'close_notify');
    } catch {
      // the server may already be gone
    }
    if (!this.channel.isClosed) {
      this.channel.close();
      const timer = setTimeout(() => this.channel.destroy(), 2000);
      if (!this.channel.isClosed) await once(this.channel, 'close').catch(() => {});
      clearTimeout(timer);
    }
    this.fail(new FerryError('ERR_CLOSED', 'Connection closed.'));
    this.channel.destroy(); // settled already when interrupted: fail() left the channel
  }

  /** Closes at once with a reason (later calls fail with it). */
  destroy(reason?: FerryError): void {
    this.fail(reason ?? new FerryError('ERR_CLOSED', 'Connection closed.'));
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failed;
  }

  private onData(d: Buffer): void {
    for (const result of this.parser.push(d)) {
      if (result.kind === 'invalid') {
        this.fail(
          new FerryError(
            'ERR_PROTOCOL',
            `The server sent something that is not an FTP reply (${result.reason}): ${JSON.stringify(result.line.slice(0, 80))}`,
          ),
        );
        return;
      }
      const r = result.reply;
      this.o.log?.({ kind: 'reply', reply: r });
      // RFC 959: 421, whatever it answers, means the server is closing the connection (a timeout,
      // shutting down, an account disabled): its text is the reason, and nothing more is sent.
      const closing =
        r.code === Code.ServiceNotAvailable ? new ServerClosingError(r.lines.join(' ')) : undefined;
      if (closing && !this.o.return421) return this.fail(closing);
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        clearTimeout(w.timer);
        w.resolve(r);
      } else {
        this.queue.push(r);
        this.queuedChars += replyChars(r);
        if (this.queue.length > MAX_UNREAD_REPLIES || this.queuedChars > MAX_UNREAD_CHARS) {
          this.fail(
            new FerryError(
              'ERR_PROTOCOL',
              `The server sent more than ${MAX_UNREAD_REPLIES} replies that no command asked for (or more than 1 MiB of them); connection closed.`,
            ),
          );
          return;
        }
      }
      if (closing) return this.fail(closing);
    }
  }

  private fail(err: FerryError): void {
    if (this.failed) return;
    this.settle(err);
    this.channel.destroy();
  }

  /** Marks the connection failed with `err` (the reply awaited rejects with it); the channel stays. */
  private settle(err: FerryError): void {
    if (this.failed) return;
    this.failed = err;
    this.unlisten(); // a closed connection no longer needs (nor holds on to) the connect signal
    if (!(err.code === 'ERR_CLOSED' && this.closing)) this.info(`Connection closed: ${err.message}`);
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

function replyChars(r: Reply): number {
  return r.lines.reduce((n, line) => n + line.length, 0);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new FerryError('ERR_TIMEOUT', `${what} timed out after ${ms} ms.`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
