import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { FerryError } from '../errors.js';
import { readIntoReusedBuffer } from './reused-read-buffer.js';

/** TCP bytes per read once reads go to a reused buffer (as many as Node reads at a time otherwise). */
const TCP_READ = 64 * 1024;

/**
 * Sits between a TCP socket and a TLS engine so we can tell a clean TLS close (close_notify) from
 * a bare TCP FIN: Node reports both as 'end', and a TLS engine on the TCP handle itself gives no
 * way to tell them apart. The engine gets each chunk synchronously from our 'data' events, so when
 * we deliver EOF we can ask whether it had already ended by itself. Costs one JavaScript hop per
 * TCP read, which buys never accepting a truncated upload (server) or listing (client): used only
 * where the end of the data is known by no other means.
 */
export class EofGuard extends Duplex {
  /**
   * A server-side TLS socket over a guard on `raw`. A bare FIN before close_notify destroys it
   * with ERR_ABORTED before its 'end', so whatever reads it fails instead of taking a short file.
   */
  static tls(raw: Socket, options: tls.TLSSocketOptions, holdTickets: () => boolean): tls.TLSSocket {
    const guard = new EofGuard(raw);
    const sock = new tls.TLSSocket(guard, options);
    // `holdTickets()` at the handshake's end: what the engine sends after it (TLS 1.3 session tickets)
    // waits for our close_notify. A client that never reads an upload connection (lftp) would
    // otherwise close it with those bytes unread, and its kernel's reset would drop what it had not
    // yet sent. TLS 1.3 only: a TLS 1.2 server sends no tickets after it, and in a full handshake
    // 'secure' comes before its last flight (ChangeCipherSpec, Finished), which the client awaits.
    sock.once('secure', () => {
      if (holdTickets() && sock.getProtocol() === 'TLSv1.3') guard.held ??= [];
      guard.reuseReads();
    });
    guard.failBareFin(
      sock,
      () => new FerryError('ERR_ABORTED', 'Data connection closed without TLS close_notify.'),
    );
    return sock;
  }

  /**
   * A client-side TLS socket over a guard on `raw` (`options` as for tls.connect): a bare FIN
   * before close_notify destroys it with `error()`. For a download whose end is known only by the
   * server closing it (a listing, a file of unknown size): a FIN an attacker injects would cut it.
   */
  static clientTls(raw: Socket, options: tls.ConnectionOptions, error: () => Error): tls.TLSSocket {
    const guard = new EofGuard(raw);
    // The TLS socket takes its half-open setting from its transport: as on a TCP socket, it answers
    // the server's close_notify with its own (vsftpd sends its 226 only then).
    guard.allowHalfOpen = false;
    const sock = tls.connect({ ...options, socket: guard });
    sock.once('secureConnect', () => guard.reuseReads());
    guard.failBareFin(sock, error);
    return sock;
  }

  /** Destroys `sock` with `error()` when the TCP connection ends before its TLS close_notify. */
  private failBareFin(sock: tls.TLSSocket, error: () => Error): void {
    // Runs before the engine sees our EOF: by then it has seen every byte before it.
    this.prependOnceListener('end', () => {
      if (!engineEnded(sock)) sock.destroy(error());
    });
  }

  /** Output held back (see `tls`); flushed when we end our side. */
  private held: Buffer[] | undefined;

  private constructor(private readonly raw: Socket) {
    super();
    raw.on('data', (d: Buffer) => {
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (err) => this.destroy(err));
    // After a FIN, bytes may still wait in our buffer (backpressure): let them drain.
    raw.on('close', () => {
      if (!raw.readableEnded) this.destroy();
    });
  }

  /**
   * From the handshake's end, TCP reads go to one reused buffer (reused-read-buffer.ts): a chunk
   * emitted at once is copied by the engine before the next read. One that would wait in our
   * buffer instead (the engine paused) is pushed as a copy. Only while nobody else reads `raw`
   * (the ClientHello capture keeps what it is given).
   */
  private reuseReads(): void {
    if (this.raw.listenerCount('data') !== 1) return;
    readIntoReusedBuffer(
      this.raw,
      (n, buf) => {
        const bytes = buf.subarray(0, n);
        return this.push(this.emitsAtOnce() ? bytes : Buffer.from(bytes));
      },
      TCP_READ,
    );
  }

  /** Whether push() hands a chunk to the 'data' listener now (Readable's addChunk), keeping nothing. */
  private emitsAtOnce(): boolean {
    const state = (this as unknown as { _readableState: { sync: boolean } })._readableState;
    return (
      this.readableFlowing === true &&
      this.readableLength === 0 &&
      !state.sync &&
      this.listenerCount('data') > 0
    );
  }

  override _read(): void {
    this.raw.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.raw.destroyed) return cb();
    if (this.held) return (this.held.push(chunk), cb());
    if (this.raw.write(chunk)) cb();
    else this.raw.once('drain', () => cb());
  }
  override _final(cb: (err?: Error | null) => void): void {
    const held = this.held ?? [];
    this.held = undefined;
    if (!this.raw.destroyed) for (const chunk of held) this.raw.write(chunk);
    this.raw.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.raw.destroy();
    cb(err);
  }
}

/**
 * Node marks a readable ended the moment the engine pushes EOF (on close_notify); the public
 * `readableEnded` waits until the consumer has read everything, which is too late to compare.
 */
function engineEnded(s: tls.TLSSocket): boolean {
  return (s as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}
