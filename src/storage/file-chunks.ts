import { close, read } from 'node:fs';
import { Readable } from 'node:stream';
import { BufferRing, type RecyclingReadable } from './recycling.js';

/**
 * Bytes [start, end) of an open file, read through the thread pool `size` bytes at a time into
 * buffers that come back through `recycle` (see RecyclingReadable). Owns `fd`: closes it when done
 * or destroyed (after a read in flight, so the number is never closed under it). A file that
 * shrinks meanwhile ends the stream early, as fs.createReadStream does.
 */
export class FileChunks extends Readable implements RecyclingReadable {
  readonly #ring: BufferRing;
  #position: number;
  #reading = false;
  #closeWhenIdle: (() => void) | undefined;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
    size: number,
  ) {
    super({ highWaterMark: size });
    this.#position = start;
    this.#ring = new BufferRing(size);
  }

  recycle(chunk: Buffer): void {
    this.#ring.give(chunk);
  }

  override _read(): void {
    const want = Math.min(this.#ring.size, this.end - this.#position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buf = this.#ring.take();
    this.#reading = true;
    read(this.fd, buf, 0, want, this.#position, (err, n) => {
      this.#reading = false;
      if (this.#closeWhenIdle) return this.#closeWhenIdle();
      if (err) return void this.destroy(err);
      if (n === 0) return void this.push(null);
      this.#position += n;
      this.push(n === buf.length ? buf : buf.subarray(0, n));
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#ring.clear();
    const closeFd = (): void => close(this.fd, (closeErr) => cb(err ?? closeErr));
    if (this.#reading) this.#closeWhenIdle = closeFd;
    else closeFd();
  }
}
