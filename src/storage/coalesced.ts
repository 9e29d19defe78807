import { finished, Readable } from 'node:stream';
import { BufferRing, type RecyclingReadable } from './recycling.js';

/**
 * A byte stream re-cut into chunks of up to `size` bytes, copied into buffers that come back
 * through `recycle` (see RecyclingReadable). An HTTP response body arrives as one fresh 64 KiB
 * buffer per socket read: written as they come, each is a TLS write and a system call of its own on
 * the data connection, and the allocations keep the garbage collector busy (together most of the
 * server's CPU in an S3 download). Nothing waits for a chunk to fill: what one turn of the event loop
 * brought is sent at the end of that turn, so a slow source is passed on as it trickles in.
 * Backpressure passes through: the source is paused once `depth` chunks wait unread, and resumed
 * when the reader wants more. Pausing at one chunk would pause and resume an HTTP response at every
 * socket read, and a read that comes in while its socket is paused is held as a copy (s3-agent.ts).
 * Destroying this stream destroys the source, and the source's failure, or its close before its
 * end, fails this stream.
 */
export class Coalesced extends Readable implements RecyclingReadable {
  readonly #source: Readable;
  readonly #ring: BufferRing;
  #buf: Buffer | undefined;
  #fill = 0;
  /** Sends a partly filled buffer at the end of the turn its bytes came in. */
  #flush: NodeJS.Immediate | undefined;

  readonly #pauseAt: number;

  /** `depth`: chunks held unread before the source is paused (see above). */
  constructor(source: Readable, size: number, depth = 1) {
    super({ highWaterMark: size });
    this.#source = source;
    this.#pauseAt = size * depth;
    // Room for every chunk held, the one being filled and one being written.
    this.#ring = new BufferRing(size, depth + 2);
    source.on('data', (chunk: Buffer) => this.#take(chunk));
    source.once('end', () => {
      this.#send();
      this.push(null);
    });
    finished(source, { writable: false }, (err) => {
      if (err) this.destroy(err);
    });
    source.pause();
  }

  recycle(chunk: Buffer): void {
    this.#ring.give(chunk);
  }

  override _read(): void {
    this.#source.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearImmediate(this.#flush);
    this.#ring.clear();
    this.#source.destroy();
    cb(err);
  }

  #take(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const buf = (this.#buf ??= this.#ring.take());
      const n = chunk.copy(buf, this.#fill, at);
      at += n;
      this.#fill += n;
      if (this.#fill === buf.length) this.#send();
    }
    if (this.#fill > 0) this.#flush ??= setImmediate(() => this.#send());
  }

  /** Pushes what the buffer holds; the next bytes go into another one. */
  #send(): void {
    clearImmediate(this.#flush);
    this.#flush = undefined;
    const buf = this.#buf;
    if (!buf || this.#fill === 0) return;
    const chunk = this.#fill === buf.length ? buf : buf.subarray(0, this.#fill);
    this.#buf = undefined;
    this.#fill = 0;
    if (!this.push(chunk) && this.readableLength >= this.#pauseAt) this.#source.pause();
  }
}
