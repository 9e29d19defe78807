import type { Socket } from 'node:net';
import { Duplex, type Readable } from 'node:stream';

/**
 * Sits between a TCP socket and a TLS engine so we can tell a clean TLS close (close_notify) from
 * a bare TCP FIN: Node reports both as 'end'. The engine gets each chunk synchronously from our
 * 'data' events, so when we deliver EOF we can ask whether it had already ended by itself.
 * Costs about 10% of TLS throughput, which buys never accepting a truncated upload.
 */
export class EofGuard extends Duplex {
  private truncated = false;

  constructor(private readonly raw: Socket) {
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

  /** Call once, with the TLS socket that reads from this guard. */
  watch(tlsSocket: Readable): void {
    // Runs before the engine sees our EOF: by then it has seen every byte before it.
    this.prependOnceListener('end', () => {
      this.truncated = !engineEnded(tlsSocket);
    });
  }

  /** The peer closed TCP without a TLS close_notify. */
  get endedWithoutCloseNotify(): boolean {
    return this.truncated;
  }

  override _read(): void {
    this.raw.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.raw.destroyed) return cb();
    if (this.raw.write(chunk)) cb();
    else this.raw.once('drain', () => cb());
  }
  override _final(cb: (err?: Error | null) => void): void {
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
function engineEnded(s: Readable): boolean {
  return (s as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}
