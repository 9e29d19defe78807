import { Readable } from 'node:stream';

/**
 * Bytes per chunk a download is read and sent in (local disk, S3): fewer syscalls, event-loop
 * turns and TLS writes per GiB (1 MiB, as the socket takes it).
 */
export const CHUNK = 1024 * 1024;

/**
 * A download source whose chunks can be handed back once the consumer is done with them (written
 * to the socket), to be read into again. Big downloads otherwise allocate a fresh buffer per read,
 * and that much short-lived memory outside the JavaScript heap drives V8 into repeated full
 * garbage collections (most of the CPU of a 1 GiB RETR). A consumer that never hands chunks back
 * loses nothing: the source then allocates as any stream does.
 */
export interface RecyclingReadable extends Readable {
  /** `chunk` (one this source pushed) is no longer used by anyone. */
  recycle(chunk: Buffer): void;
}

export function isRecycling(r: Readable): r is RecyclingReadable {
  return typeof (r as Partial<RecyclingReadable>).recycle === 'function';
}

/**
 * Buffers of one size that a source reads into, kept for reuse once handed back (whole, or the one
 * slice of it that was pushed: each has its own memory, which tells it).
 */
export class BufferRing {
  readonly #mine = new WeakMap<ArrayBufferLike, Buffer>();
  readonly #free: Buffer[] = [];

  /** `keep`: at most this many free buffers are kept; more handed back are left to the GC. */
  constructor(
    readonly size: number,
    private readonly keep = 4,
  ) {}

  take(): Buffer {
    const buf = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
    this.#mine.set(buf.buffer, buf);
    return buf;
  }

  /** Only buffers this ring handed out (or a slice of one), and each once. */
  give(chunk: Buffer): void {
    const buf = this.#mine.get(chunk.buffer);
    if (!buf) return;
    this.#mine.delete(chunk.buffer);
    if (this.#free.length < this.keep) this.#free.push(buf);
  }

  clear(): void {
    this.#free.length = 0;
  }
}
