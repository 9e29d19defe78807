import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { FerryError } from '../errors.js';
import { FTP_ALPN } from './alpn.js';
import { handshake } from './handshake.js';
import { RecordSplitter } from './record-splitter.js';

/**
 * The control connection's byte stream, with TLS that can start (AUTH, implicit FTPS) and END
 * (CCC, REIN) without closing TCP. Node's TLSSocket cannot unwrap a socket, so each TLS session
 * runs over a SessionPipe that we own: ending the session ends the pipe, never the TCP socket, and
 * the bytes that follow the old session go to the next phase (plaintext, or a new handshake).
 *
 * Events: 'data' (plaintext application bytes), 'drain' (a stream on the way out emptied its
 * buffer: `unsentBytes` may have dropped), 'tls-end' (the peer's close_notify ended the live TLS
 * session, not one that stopTls() is closing), 'close', 'error'.
 */
export type TlsStart =
  | {
      role: 'server';
      secureContext: tls.SecureContext;
      sessionCache?: net.Server;
      handshakeTimeoutMs: number;
    }
  | { role: 'client'; options: tls.ConnectionOptions; handshakeTimeoutMs: number };

interface Session {
  readonly tls: tls.TLSSocket;
  readonly pipe: SessionPipe;
  /** The handshake completed (until then the peer may be a port scanner or stuck). */
  established: boolean;
}

/**
 * `held`: TLS ended and a new session will start (implicit REIN): bytes that come before
 * startTls() is called are kept for it, never read as plaintext (a ClientHello can follow the
 * peer's close_notify in the same segment, before the new session exists).
 */
type Next = { kind: 'plain' } | { kind: 'tls'; session: Session } | { kind: 'held'; chunks: Buffer[] };
type Phase = Next | { kind: 'closing'; session: Session; next: Next };

/** What one TLS engine sees as its transport: pushes come from the channel, writes go to TCP. */
class SessionPipe extends Duplex {
  detached = false;
  private finalized: (() => void) | undefined;
  readonly ended: Promise<void>;

  constructor(
    private readonly socket: Socket,
    /** Told before each write (the channel may hold it for the next one). */
    private readonly written: () => void,
  ) {
    super();
    this.ended = new Promise((resolve) => (this.finalized = resolve));
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.detached || this.socket.destroyed) return cb();
    this.written();
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }
  /** The TLS engine has written its close_notify; TCP stays open. */
  override _final(cb: (err?: Error | null) => void): void {
    this.finalized?.();
    cb();
  }
  /** Retired before the engine's shutdown reached _final (the peer answered close_notify first). */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.finalized?.();
    cb(err);
  }
}

export class ControlChannel extends EventEmitter {
  private phase: Phase = { kind: 'plain' };
  private readonly records = new RecordSplitter();
  private closed = false;
  private paused = false;
  private corked = false;
  /** Bytes the client sent into TLS sessions (a failed handshake that got none was a mere probe). */
  private tlsIn = 0;
  /** A server handshake is running: what its engine writes is gathered (coalesce()). */
  private gathering = false;
  /** The first bytes the peer sent since the latest startTls(), until its handshake is through. */
  private early: Buffer[] = [];
  private earlyLength = 0;
  private readonly gone: Promise<void>;
  /** Sessions the peer has left whose close_notify from us is not out yet (leave()). */
  private readonly leaving = new Set<Session>();

  constructor(readonly socket: Socket) {
    super();
    this.gone = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.route(chunk));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this.onClose());
    socket.on('drain', this.onDrain);
  }

  /**
   * Bytes written but not yet handed to the kernel: queued in the TCP socket and, while TLS runs
   * (or a session is being replaced), in each TLS engine and its pipe.
   */
  get unsentBytes(): number {
    let n = this.socket.writableLength;
    for (const s of sessionsOf(this.phase)) n += s.tls.writableLength + s.pipe.writableLength;
    return n;
  }

  /** Stops (or restarts) reading from the client; what was read already is still delivered. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.socket.resume();
  }

  /** True while application bytes travel inside TLS (from the handshake's start: none before it). */
  get secure(): boolean {
    return this.phase.kind === 'tls';
  }

  /** True while TLS runs with its handshake completed: what reports show as a TLS session. */
  get established(): boolean {
    return this.phase.kind === 'tls' && this.phase.session.established;
  }

  /** The live TLS socket (for certificate and session details), if any. */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.phase.kind === 'tls' ? this.phase.session.tls : undefined;
  }

  /**
   * Bytes the client has sent into TLS so far. Unlike the socket's bytesRead, it leaves out a PROXY
   * header and counts the bytes read with it (handed back to the stream, or to a cluster worker).
   */
  get tlsBytesIn(): number {
    return this.tlsIn;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * `sent`: run once, when `data` has been written to the socket (clear: taken by the kernel; under
   * TLS: queued on the socket behind the records before it) (a failed write, a closed channel: at
   * once, or when the connection closes).
   */
  write(data: string | Buffer, sent?: () => void): void {
    if (this.closed) return sent?.();
    const done = sent && this.whenSent(sent);
    const p = this.phase;
    if (p.kind === 'tls') p.session.tls.write(data, done);
    else if (p.kind === 'closing' && p.next.kind === 'tls') p.next.session.tls.write(data, done);
    else this.socket.write(data, done);
  }

  /** A write's callback running `sent` once: when the write is done, or the connection closed first. */
  private whenSent(sent: () => void): () => void {
    let pending = true;
    const done = (): void => {
      if (!pending) return;
      pending = false;
      this.socket.off('close', done);
      sent();
    };
    this.socket.once('close', done);
    return done;
  }

  /**
   * Starts a TLS session on the stream; resolves once the handshake is done. When called while an
   * old session is closing (implicit REIN), the new session receives the bytes after the old one.
   */
  async startTls(start: TlsStart): Promise<tls.TLSSocket> {
    if (this.closed) throw new FerryError('ERR_CLOSED', 'Connection closed.');
    // A server's handshake ends with the session ticket; the socket stays corked for two turns
    // after it, so the application's first reply (the implicit greeting) leaves with it.
    this.gathering = start.role === 'server';
    const pipe = new SessionPipe(this.socket, this.onPipeWrite);
    const sock =
      start.role === 'server'
        ? new tls.TLSSocket(pipe, {
            isServer: true,
            secureContext: start.secureContext,
            server: start.sessionCache,
            // Every client is asked for a certificate and none is refused for it: whether it logs
            // anyone in is for the authenticator. OpenSSL verifies it against the context's client
            // CAs and CRLs; tls/client-certificate.ts reads the verdict.
            requestCert: true,
            rejectUnauthorized: false,
            ...FTP_ALPN,
          })
        : tls.connect({ ...start.options, socket: pipe });
    const session: Session = { tls: sock, pipe, established: false };
    this.early = [];
    this.earlyLength = 0;
    sock.on('drain', this.onDrain);
    pipe.on('drain', this.onDrain);
    const current = (): boolean => this.phase.kind === 'tls' && this.phase.session === session;
    sock.on('data', (d: Buffer) => {
      if (current()) this.emit('data', d);
    });
    // The pipe never ends on its own (onClose destroys it): an 'end' here is the peer's close_notify.
    sock.on('end', () => {
      if (current() && session.established) this.emit('tls-end');
    });
    const p = this.phase;
    if (p.kind === 'closing') this.phase = { ...p, next: { kind: 'tls', session } };
    else if (p.kind === 'plain' || p.kind === 'held') {
      this.records.reset();
      this.phase = { kind: 'tls', session };
      if (p.kind === 'held') for (const chunk of p.chunks) this.route(chunk);
    } else throw new FerryError('ERR_TLS', 'TLS is already active.');

    try {
      await handshake(sock, start.role, start.handshakeTimeoutMs);
    } catch (err) {
      // The engine's alert (why it refused the client) is among the gathered bytes: it must reach
      // the kernel now, before whoever refused the client destroys TCP with it still corked.
      this.gathering = false;
      if (this.corked) this.uncork();
      sock.on('error', () => {});
      sock.destroy();
      throw err;
    } finally {
      this.gathering = false;
    }
    session.established = true;
    sock.on('error', (err) => {
      if (current()) this.emit('error', err);
    });
    return sock;
  }

  /**
   * Sends close_notify and returns the stream to plaintext (CCC, REIN). Resolves once the
   * close_notify has been handed to TCP, so that what is written next follows it. `thenTls`: a
   * new session follows (implicit REIN): what arrives until startTls() is kept for it.
   * `peerFirstMs`: wait up to that long for the peer's close_notify before sending ours (CCC: lftp
   * reads the 200 and a close_notify that came with it in one go, and takes it for a lost
   * connection; it sends its own close_notify once it has the 200, and waits for ours).
   */
  async stopTls(opts: { thenTls?: boolean; peerFirstMs?: number } = {}): Promise<void> {
    const p = this.phase;
    if (p.kind !== 'tls') return;
    const next: Next = opts.thenTls ? { kind: 'held', chunks: [] } : { kind: 'plain' };
    // Closing from now on: what follows the peer's close_notify is clear text, even while we wait.
    this.phase = { kind: 'closing', session: p.session, next };
    p.session.tls.on('error', () => {}); // the peer may reset instead of answering close_notify
    if (opts.peerFirstMs) await this.peerEnd(p.session, opts.peerFirstMs);
    p.session.tls.end();
    await Promise.race([p.session.pipe.ended, this.gone]);
  }

  /** Resolves on the peer's close_notify for `session`, the connection's close, or after `ms`. */
  private async peerEnd(session: Session, ms: number): Promise<void> {
    if (session.tls.readableEnded) return;
    let done = (): void => {};
    const ended = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(done, ms);
    session.tls.once('end', done);
    try {
      await Promise.race([ended, this.gone]);
    } finally {
      clearTimeout(timer);
      session.tls.off('end', done);
    }
  }

  /**
   * The first bytes (at most EARLY_BYTES) the peer sent since the latest startTls(), while its
   * handshake ran: when it fails, what the peer said instead of TLS (a clear-text `421` refusal).
   */
  get handshakeBytes(): Buffer {
    return Buffer.concat(this.early);
  }

  /** Ends TCP after pending writes. */
  close(): void {
    // Often ended already (the client closed first): end() would make an error just to drop it.
    if (!this.socket.writableEnded && !this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * What is written within this turn of the event loop and the next leaves in one system call
   * (e.g. a 221 and the close_notify that follows it): a TLS engine runs over a JS stream, which
   * reports a write complete from setImmediate, so the engine's next record comes a turn later.
   * Each write wakes the peer, which costs more than the write itself; only for writes known to
   * come together, as the delay would slow a command's reply.
   */
  readonly coalesce = (): void => {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => setImmediate(this.uncork));
  };

  private readonly onPipeWrite = (): void => {
    if (this.gathering) this.coalesce();
  };

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private readonly onDrain = (): void => {
    this.emit('drain');
  };

  private route(chunk: Buffer): void {
    const p = this.phase;
    if (p.kind === 'plain') {
      this.emit('data', chunk);
    } else if (p.kind === 'held') {
      p.chunks.push(chunk);
    } else if (p.kind === 'tls') {
      if (!p.session.established && this.earlyLength < EARLY_BYTES) {
        const part = Buffer.from(chunk.subarray(0, EARLY_BYTES - this.earlyLength));
        this.early.push(part);
        this.earlyLength += part.length;
      }
      this.records.track(chunk);
      this.tlsIn += chunk.length;
      p.session.pipe.push(chunk);
    } else {
      const { old, rest } = this.records.split(chunk);
      if (old.length > 0) p.session.pipe.push(old);
      if (rest === undefined) return;
      this.leave(p.session);
      this.records.reset();
      this.phase = p.next;
      if (rest.length > 0) this.route(rest);
    }
  }

  /**
   * The peer has left `s` (clear text or a new ClientHello follows): retired once our close_notify
   * is out. CCC's may still wait for the peer's, which `s` has yet to read.
   */
  private leave(s: Session): void {
    this.leaving.add(s);
    void s.pipe.ended.then(() => {
      this.leaving.delete(s);
      retire(s);
    });
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.leaving) retire(s);
    const p = this.phase;
    if (p.kind === 'tls') retire(p.session);
    else if (p.kind === 'closing') {
      retire(p.session);
      if (p.next.kind === 'tls') retire(p.next.session);
    }
    this.emit('close');
  }
}

/**
 * How much of what a peer sends during a handshake is kept (handshakeBytes): a whole ClientHello of
 * most clients (modern ones pad theirs to 512 bytes and more), to log what a refused one offered.
 */
const EARLY_BYTES = 2048;

function sessionsOf(p: Phase): Session[] {
  if (p.kind === 'tls') return [p.session];
  if (p.kind === 'closing') return p.next.kind === 'tls' ? [p.session, p.next.session] : [p.session];
  return [];
}

function retire(s: Session): void {
  s.pipe.detached = true;
  s.tls.on('error', () => {});
  s.tls.destroy();
  s.pipe.destroy();
}
