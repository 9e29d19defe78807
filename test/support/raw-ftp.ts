/**
 * A small raw FTP(S) client for end-to-end tests: it sends exactly the bytes a test asks for and
 * hands back every reply, so tests can check reply codes, their order and the TLS state of each
 * connection. Every wait has a deadline; nothing sleeps.
 *
 * The control connection runs over src/tls/control-tls.ts ControlChannel (client role), so TLS can
 * start (implicit FTPS, AUTH) and end (CCC, REIN) on one TCP connection. Data connections use
 * tls.connect({ socket }) over a plain TCP socket and resume the control connection's TLS session
 * when asked to (`reuse`).
 */
import { once, type EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { parseEpsvReply, parsePasvReply } from '../../src/protocol/address.js';
import { ReplyParser } from '../../src/protocol/reply-parser.js';
import type { Reply } from '../../src/protocol/reply.js';
import { ControlChannel } from '../../src/tls/control-tls.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

const noop = (): void => {};

/** The text of a reply, lines joined with LF. */
export function textOf(r: Reply): string {
  return r.lines.join('\n');
}

/** `p`, or a rejection naming `what` once `ms` have passed. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** The next `event` of `emitter` (rejects on 'error' or after `ms`). */
export async function waitEvent(
  emitter: EventEmitter,
  event: string,
  ms = DEFAULT_TIMEOUT_MS,
): Promise<unknown[]> {
  const ac = new AbortController();
  try {
    return await withDeadline(once(emitter, event, { signal: ac.signal }), ms, `'${event}'`);
  } finally {
    ac.abort();
  }
}

/** Resolves once the socket has closed (at once if it already has). */
export function socketClosed(s: net.Socket): Promise<void> {
  if (s.closed) return Promise.resolve();
  return new Promise((resolve) => s.once('close', () => resolve()));
}

export interface RawConnectOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (rejectUnauthorized: false). */
  readonly implicit: boolean;
  readonly localAddress?: string;
  /** Deadline for each wait (connect, handshake, reply); default 10 s. */
  readonly timeoutMs?: number;
  /** Implicit only: runs after TCP connects and before the ClientHello is sent. */
  readonly beforeTls?: (ftp: RawFtp) => Promise<void>;
  /** Highest TLS version offered on the control connection (and so on data connections). */
  readonly maxVersion?: tls.SecureVersion;
  /** Client certificate (PEM) and key presented on the control connection's TLS handshakes. */
  readonly clientCertificate?: ClientCertificatePem;
  /** The server's FIN does not end the client's side (as ftplib after an error reply: it keeps its socket). */
  readonly keepOpen?: boolean;
}

export interface ClientCertificatePem {
  readonly cert: string;
  readonly key: string;
}

export interface DataOptions {
  /** Wrap the data connection in TLS (PROT P). */
  readonly tls: boolean;
  /** Resume the control connection's TLS session (default true). */
  readonly reuse?: boolean;
  /** Offer this TLS session instead (e.g. one issued on an earlier data connection). */
  readonly session?: Buffer;
  /** Connect from this local address (e.g. 127.0.0.2). */
  readonly localAddress?: string;
  /** Host to connect to (default: the control connection's host). */
  readonly host?: string;
}

/** One data connection: `stream` is the TLS socket when there is one, else the TCP socket. */
export interface DataConnection {
  readonly raw: net.Socket;
  readonly tls: tls.TLSSocket | undefined;
  readonly stream: Duplex;
  /** Resolves once TCP (and TLS) have closed. */
  readonly closed: Promise<void>;
  /** Every byte received (after TLS decryption), whether or not the test reads it. */
  readonly received: Buffer[];
  /** TLS only: whether the handshake resumed the control connection's session. */
  readonly sessionReused: boolean | undefined;
  /** TLS only: sessions (tickets) the server issued on this connection, as they arrive. */
  readonly sessions: Buffer[];
}

/** A listening socket for PORT/EPRT: the server connects to it at transfer time. */
export interface ActiveListener {
  readonly port: number;
  /** The server's connection, TLS-wrapped when `tls` (this side is the TLS client, RFC 4217). */
  accept(): Promise<DataConnection>;
  close(): Promise<void>;
}

interface Waiter {
  resolve(r: Reply): void;
  reject(err: Error): void;
}

export class RawFtp {
  readonly socket: net.Socket;
  readonly channel: ControlChannel;
  readonly host: string;
  readonly implicit: boolean;
  readonly timeoutMs: number;
  /** Every chunk received on the TCP connection, before any TLS decryption. */
  readonly rawReceived: Buffer[] = [];
  /** Commands sent (`> `) and replies received (`< `), for assertion messages. */
  readonly transcript: string[] = [];
  /** Resolves once the control TCP connection has closed. */
  readonly closed: Promise<void>;
  /** Whether data connections use TLS (PROT P); high-level helpers read it. */
  dataTls = true;
  /** Presented on the next control TLS handshakes (change it before a REIN or AUTH to switch). */
  clientCertificate: ClientCertificatePem | undefined;
  private readonly parser = new ReplyParser();
  private readonly replies: Reply[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly data = new Set<DataConnection>();
  private readonly maxVersion: tls.SecureVersion | undefined;
  private readonly listeners = new Set<net.Server>();
  /** Active-mode connections accepted but not yet handed to the test (closed by close()). */
  private readonly unwrapped = new Set<net.Socket>();
  private tlsSocket: tls.TLSSocket | undefined;
  private session: Buffer | undefined;
  private sessions: Buffer[] = [];
  private sessionWaiters: (() => void)[] = [];
  private peerEnded: Promise<void> = Promise.resolve();
  private closeReason: string | undefined;

  private constructor(socket: net.Socket, o: RawConnectOptions) {
    this.socket = socket;
    this.host = o.host;
    this.implicit = o.implicit;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxVersion = o.maxVersion;
    this.clientCertificate = o.clientCertificate;
    socket.on('data', (d: Buffer) => this.rawReceived.push(d));
    this.channel = new ControlChannel(socket);
    this.channel.on('data', (d: Buffer) => this.onData(d));
    this.channel.on('error', (err: Error) => (this.closeReason ??= err.message));
    this.closed = new Promise((resolve) => this.channel.once('close', resolve));
    void this.closed.then(() => this.failWaiters(`control connection closed (${this.closeReason ?? 'EOF'})`));
  }

  /** Connects TCP; with `implicit`, also completes the TLS handshake. The 220 greeting is NOT read. */
  static async connect(o: RawConnectOptions): Promise<RawFtp> {
    const socket = net.connect({
      host: o.host,
      port: o.port,
      localAddress: o.localAddress,
      allowHalfOpen: o.keepOpen === true,
    });
    socket.on('error', noop);
    const ftp = new RawFtp(socket, o);
    try {
      await waitEvent(socket, 'connect', ftp.timeoutMs);
      if (o.implicit) {
        await o.beforeTls?.(ftp);
        await ftp.startTls();
      }
    } catch (err) {
      await ftp.close();
      throw err;
    }
    return ftp;
  }

  /** True while the control connection is inside TLS. */
  get secure(): boolean {
    return this.channel.secure;
  }

  get isClosed(): boolean {
    return this.channel.isClosed;
  }

  /** The TLS socket of the current (or last) control TLS session. */
  get controlTls(): tls.TLSSocket | undefined {
    return this.tlsSocket;
  }

  /** The latest TLS session of the current control TLS session (for data connection reuse). */
  get tlsSession(): Buffer | undefined {
    return this.session;
  }

  /** Every TLS session (ticket) the current control TLS session has delivered, oldest first. */
  get tlsSessions(): readonly Buffer[] {
    return this.sessions;
  }

  /** Resolves once the server has ended the current control TLS session (close_notify). */
  get peerEndedTls(): Promise<void> {
    return this.peerEnded;
  }

  /** Client TLS handshake on the control connection (implicit connect, after 234, after REIN). */
  async startTls(): Promise<tls.TLSSocket> {
    this.session = undefined;
    this.sessions = [];
    const sock = await this.channel.startTls({
      role: 'client',
      options: { rejectUnauthorized: false, maxVersion: this.maxVersion, ...this.clientCertificate },
      handshakeTimeoutMs: this.timeoutMs,
    });
    this.tlsSocket = sock;
    this.peerEnded = new Promise((resolve) => sock.once('end', () => resolve()));
    // TLS 1.2 delivers its session with the handshake; TLS 1.3 sends tickets after it.
    if (sock.getProtocol() === 'TLSv1.2') this.session = sock.getSession();
    if (this.session) this.sessions.push(this.session);
    sock.on('session', (s: Buffer) => {
      if (this.tlsSocket !== sock) return;
      this.session = s;
      this.sessions.push(s);
      for (const w of this.sessionWaiters.splice(0)) w();
    });
    return sock;
  }

  /** Sends close_notify; the control connection continues in clear (CCC, REIN). */
  async stopTls(): Promise<void> {
    await withDeadline(this.channel.stopTls(), this.timeoutMs, 'TLS close');
  }

  /** Waits until the control TLS session has delivered a resumable session. */
  async waitForSession(): Promise<Buffer> {
    if (!this.session) {
      await withDeadline(
        new Promise<void>((resolve) => this.sessionWaiters.push(resolve)),
        this.timeoutMs,
        'a TLS session ticket on the control connection',
      );
    }
    if (!this.session) throw new Error('no TLS session');
    return this.session;
  }

  /** Sends one command line (CRLF added), or raw bytes as they are. */
  send(line: string | Buffer): void {
    if (typeof line === 'string') {
      this.transcript.push(`> ${line.startsWith('PASS ') ? 'PASS ****' : line}`);
      this.channel.write(line + '\r\n');
    } else {
      this.transcript.push(`> <${line.length} raw bytes>`);
      this.channel.write(line);
    }
  }

  /** The next reply (within the deadline); with `code`, asserts it. */
  async expect(code?: number, timeoutMs = this.timeoutMs): Promise<Reply> {
    const queued = this.replies.shift();
    const r =
      queued ??
      (await withDeadline(
        new Promise<Reply>((resolve, reject) => {
          if (this.channel.isClosed) reject(new Error('control connection closed'));
          else this.waiters.push({ resolve, reject });
        }),
        timeoutMs,
        `a reply${code === undefined ? '' : ` ${code}`}\n${this.dump()}`,
      ).catch((err: unknown) => {
        // A timed-out waiter must not swallow the next reply.
        this.waiters.splice(0);
        throw err;
      }));
    if (code !== undefined && r.code !== code) {
      throw new Error(`expected reply ${code}, got ${r.code} ${textOf(r)}\n${this.dump()}`);
    }
    return r;
  }

  /** True when no reply is waiting to be read. */
  get noPendingReplies(): boolean {
    return this.replies.length === 0 && !this.parser.inProgress;
  }

  /** send + expect. */
  async cmd(line: string, code?: number): Promise<Reply> {
    this.send(line);
    return this.expect(code);
  }

  /** AUTH <mech>; on 234, the TLS handshake. Returns the AUTH reply. */
  async authTls(mech = 'TLS'): Promise<Reply> {
    const r = await this.cmd(`AUTH ${mech}`);
    if (r.code === 234) await this.startTls();
    return r;
  }

  /** USER + PASS, expecting 331 and 230. */
  async login(user: string, pass: string): Promise<void> {
    await this.cmd(`USER ${user}`, 331);
    await this.cmd(`PASS ${pass}`, 230);
  }

  /** PASV → the port from the 227 reply. */
  async pasv(): Promise<number> {
    const r = await this.cmd('PASV', 227);
    const hp = parsePasvReply(textOf(r));
    if (!hp) throw new Error(`cannot parse PASV reply: ${textOf(r)}`);
    return hp.port;
  }

  /** EPSV → the port from the 229 reply. */
  async epsv(): Promise<number> {
    const r = await this.cmd('EPSV', 229);
    const port = parseEpsvReply(textOf(r));
    if (port === undefined) throw new Error(`cannot parse EPSV reply: ${textOf(r)}`);
    return port;
  }

  /** Opens a data connection to `port`; with `tls`, resolves after the handshake. */
  async openData(port: number, o: DataOptions): Promise<DataConnection> {
    const raw = net.connect({ host: o.host ?? this.host, port, localAddress: o.localAddress });
    raw.on('error', noop);
    try {
      await waitEvent(raw, 'connect', this.timeoutMs);
    } catch (err) {
      raw.destroy();
      throw err;
    }
    return this.wrapData(raw, o);
  }

  /** Listens for an active-mode (PORT/EPRT) data connection on 127.0.0.1 (or `on`). */
  async listenActive(
    o: Omit<DataOptions, 'localAddress' | 'host'> & { readonly on?: string },
  ): Promise<ActiveListener> {
    const server = net.createServer();
    server.on('error', noop);
    this.listeners.add(server);
    server.listen(0, o.on ?? '127.0.0.1');
    await waitEvent(server, 'listening', this.timeoutMs);
    const { port } = server.address() as net.AddressInfo;
    // Taken from the start, not when accept() is called: the server connects right after its 150,
    // and behind a proxy the 150 (through the proxy) can arrive after the connection (straight to
    // us); a 'connection' event without a listener then would be lost.
    const first = new Promise<net.Socket>((resolve) =>
      server.once('connection', (raw: net.Socket) => {
        raw.on('error', noop);
        this.unwrapped.add(raw);
        this.listeners.delete(server);
        server.close();
        resolve(raw);
      }),
    );
    // Resolves once the listener has stopped (server.close()'s callback would also wait for the
    // accepted connection, which the data connection tracking covers).
    const stopped = new Promise<void>((resolve) => server.once('close', () => resolve()));
    const close = async (): Promise<void> => {
      this.listeners.delete(server);
      if (server.listening) server.close();
      await withDeadline(stopped, this.timeoutMs, 'the active-mode listener to close');
    };
    return {
      port,
      accept: async () => {
        const raw = await withDeadline(first, this.timeoutMs, "the server's active-mode connection");
        this.unwrapped.delete(raw);
        return this.wrapData(raw, o);
      },
      close,
    };
  }

  /**
   * Starts TLS on a data connection opened with `tls: false`: what clients that send the transfer
   * command before their ClientHello do (ftplib, FileZilla). `session`: the TLS session to offer
   * (default: the control connection's newest; 'none': a full handshake).
   */
  async secureData(conn: DataConnection, session?: Buffer | 'none'): Promise<DataConnection> {
    if (session === 'none') return this.wrapData(conn.raw, { tls: true, reuse: false });
    return this.wrapData(conn.raw, { tls: true, session });
  }

  private async wrapData(
    raw: net.Socket,
    o: Pick<DataOptions, 'tls' | 'reuse' | 'session'>,
  ): Promise<DataConnection> {
    const received: Buffer[] = [];
    const sessions: Buffer[] = [];
    let t: tls.TLSSocket | undefined;
    if (o.tls) {
      const reuse = o.reuse ?? true;
      const session = o.session ?? (reuse ? await this.waitForSession() : undefined);
      t = tls.connect({ socket: raw, rejectUnauthorized: false, session, maxVersion: this.maxVersion });
      t.on('session', (s: Buffer) => sessions.push(s));
      const closedEarly = socketClosed(t);
      try {
        await waitEvent(t, 'secureConnect', this.timeoutMs);
      } catch (err) {
        t.on('error', noop);
        t.destroy();
        raw.destroy();
        await closedEarly;
        throw err;
      }
      t.on('error', noop);
    }
    const stream: Duplex = t ?? raw;
    stream.on('data', (d: Buffer) => received.push(d));
    stream.pause(); // readers resume it; until then nothing is lost (received[] fills when read)
    const closed = Promise.all([socketClosed(raw), t ? socketClosed(t) : undefined]).then(noop);
    const sessionReused = t?.isSessionReused();
    const conn: DataConnection = { raw, tls: t, stream, closed, received, sessionReused, sessions };
    this.data.add(conn);
    void closed.then(() => this.data.delete(conn));
    return conn;
  }

  /** Reads a data connection to its end (EOF or close), within the deadline. */
  async readAll(conn: DataConnection, timeoutMs = this.timeoutMs): Promise<Buffer> {
    const s = conn.stream;
    const ended = new Promise<void>((resolve) => {
      if (s.readableEnded || s.destroyed) return resolve();
      s.once('end', () => resolve());
      s.once('close', () => resolve());
    });
    s.resume();
    await withDeadline(ended, timeoutMs, 'the end of the data connection');
    return Buffer.concat(conn.received);
  }

  /** Writes `bytes`, then closes cleanly: TLS close_notify (when TLS) and TCP FIN. */
  async uploadClean(conn: DataConnection, bytes: Uint8Array): Promise<void> {
    conn.stream.resume(); // drain anything the server sends (TLS 1.3 session tickets)
    await writeAll(conn.stream, bytes, this.timeoutMs);
    conn.stream.end();
    await withDeadline(conn.closed, this.timeoutMs, 'the data connection to close');
  }

  /**
   * Writes `bytes` through TLS, then ends the TCP connection WITHOUT a TLS close_notify: what a
   * truncating attacker (or a crashing client) produces.
   */
  async uploadTruncated(conn: DataConnection, bytes: Uint8Array): Promise<void> {
    conn.stream.resume();
    await writeAll(conn.stream, bytes, this.timeoutMs);
    conn.raw.end();
    await withDeadline(conn.closed, this.timeoutMs, 'the data connection to close');
  }

  // ---- high-level helpers (EPSV, TLS per `dataTls`, the command before the ClientHello) ----

  /**
   * EPSV, TCP connect, the command and its 150, then TLS: Ferry's client's order (and ftplib's and
   * FileZilla's). A handshake finished before the command would wait out the server's direction
   * grace (half a second) on every transfer; tests of that order use openData and send themselves.
   */
  private async transferConnection(line: string): Promise<[Reply, DataConnection]> {
    const plain = await this.openData(await this.epsv(), { tls: false });
    const opening = await this.cmd(line, 150);
    return [opening, this.dataTls ? await this.secureData(plain) : plain];
  }

  /** RETR (or LIST/NLST/MLSD with `verb`) → the bytes; expects 150 and 226. */
  async retrieve(arg: string, verb = 'RETR'): Promise<Buffer> {
    const [, conn] = await this.transferConnection(arg === '' ? verb : `${verb} ${arg}`);
    const data = await this.readAll(conn);
    await this.expect(226);
    await withDeadline(conn.closed, this.timeoutMs, 'the data connection to close');
    return data;
  }

  /** A listing command → its text. */
  async listing(verb: 'LIST' | 'NLST' | 'MLSD', arg = ''): Promise<string> {
    return (await this.retrieve(arg, verb)).toString('utf8');
  }

  /** STOR (or APPE/STOU) with a clean close; returns [150 reply, final reply]. */
  async store(arg: string, bytes: Uint8Array, verb = 'STOR'): Promise<[Reply, Reply]> {
    const [opening, conn] = await this.transferConnection(arg === '' ? verb : `${verb} ${arg}`);
    await this.uploadClean(conn, bytes);
    return [opening, await this.expect()];
  }

  /** QUIT: 221, then the server closes the connection. */
  async quit(): Promise<void> {
    await this.cmd('QUIT', 221);
    await withDeadline(this.closed, this.timeoutMs, 'the server to close after QUIT');
    await this.close();
  }

  /** Closes everything now (control, data connections, active listeners) and waits for the closes. */
  async close(): Promise<void> {
    const waits: Promise<void>[] = [socketClosed(this.socket)];
    for (const c of this.data) {
      c.tls?.destroy();
      c.raw.destroy();
      waits.push(c.closed);
    }
    for (const raw of this.unwrapped) {
      raw.destroy();
      waits.push(socketClosed(raw));
    }
    this.unwrapped.clear();
    for (const l of this.listeners) {
      waits.push(new Promise((resolve) => l.once('close', () => resolve())));
      l.close();
    }
    this.listeners.clear();
    this.channel.destroy();
    this.socket.destroy();
    await withDeadline(Promise.all(waits), this.timeoutMs, 'sockets to close');
  }

  /** The last lines of the transcript. */
  dump(): string {
    return this.transcript.slice(-30).join('\n');
  }

  private onData(d: Buffer): void {
    for (const r of this.parser.push(d)) {
      if (r.kind === 'invalid') {
        this.transcript.push(`< (invalid) ${r.line}`);
        continue;
      }
      this.transcript.push(`< ${r.reply.code} ${r.reply.lines.join(' | ')}`);
      const w = this.waiters.shift();
      if (w) w.resolve(r.reply);
      else this.replies.push(r.reply);
    }
  }

  private failWaiters(why: string): void {
    for (const w of this.waiters.splice(0)) w.reject(new Error(`${why}\n${this.dump()}`));
  }
}

/** Writes all of `bytes` respecting backpressure; resolves once handed to the socket. */
export async function writeAll(
  stream: Duplex,
  bytes: Uint8Array,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<void> {
  const CHUNK = 64 * 1024;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    const part = bytes.subarray(i, Math.min(i + CHUNK, bytes.length));
    await withDeadline(
      new Promise<void>((resolve, reject) => stream.write(part, (err) => (err ? reject(err) : resolve()))),
      timeoutMs,
      'a data write',
    );
  }
}
