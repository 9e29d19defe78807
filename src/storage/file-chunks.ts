import { close, read } from 'node:fs';
import { Readable } from 'node:stream';
import type { PoolGate } from './pool-budget.js';
import { BufferRing, type RecyclingReadable } from './recycling.js';

/**
 * Bytes [start, end) of an open file, read through the thread pool `size` bytes at a time into
 * buffers that come back through `recycle` (see RecyclingReadable). Owns `fd`: closes it when done
 * or destroyed (after a read in flight, so the number is never closed under it). A file that
 * shrinks meanwhile ends the stream early, as fs.createReadStream does. With `gate` (a file on a
 * filesystem that is not local), each read takes a slot of the pool's budget first.
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
    private readonly gate?: PoolGate,
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
    const done = (err: Error | null, n: number): void => {
      this.#reading = false;
      if (this.#closeWhenIdle) return this.#closeWhenIdle();
      if (err) return void this.destroy(err);
      if (n === 0) return void this.push(null);
      this.#position += n;
      this.push(n === buf.length ? buf : buf.subarray(0, n));
    };
    const position = this.#position;
    if (!this.gate) return read(this.fd, buf, 0, want, position, done);
    this.gate(
      () =>
        new Promise<number>((resolve, reject) =>
          read(this.fd, buf, 0, want, position, (err, n) => (err ? reject(err) : resolve(n))),
        ),
    ).then(
      (n) => done(null, n),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err)), 0),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#ring.clear();
    const closeFd = (): void => close(this.fd, (closeErr) => cb(err ?? closeErr));
    if (this.#reading) this.#closeWhenIdle = closeFd;
    else closeFd();
  }
}
