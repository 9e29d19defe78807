// Bandwidth limits: one token bucket per user and direction, shared by every transfer of that user
// in this process, and a Transform that paces the bytes through it (backpressure included: a
// chunk waiting for tokens holds the pipeline, so the socket or the file is read no faster). A
// source that can pace its own reads (an upload's data connection: PaceableReadable) is paced
// there instead: a Transform after it lets it read ahead by what the stream buffers between hold.
import { Transform, type Readable, type TransformCallback } from 'node:stream';

/** How far ahead of the rate a bucket lets bytes go at once (a short burst smooths scheduling). */
const BURST_MS = 50;
/** The smallest piece paced at once (a TLS record's worth of overhead is paid per piece). */
const MIN_SLICE = 1024;

/**
 * A token bucket in its "theoretical arrival time" form: each reservation moves `#due` on by the
 * time its bytes take at the rate; its bytes go once the reservations before it are at most
 * BURST_MS ahead (sent first, paid for after: at 1 KB/s the first bytes leave at once, not a
 * slice's time later). The rate may change at any time (0 = unlimited).
 */
export class TokenBucket {
  #due = 0;

  constructor(
    public rate: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reserves `bytes`; returns how many ms to wait before sending them (0: at once). */
  reserve(bytes: number): number {
    if (!(this.rate > 0)) return 0;
    const now = this.now();
    const start = Math.max(this.#due, now);
    this.#due = start + (bytes * 1000) / this.rate;
    return Math.max(0, start - now - BURST_MS);
  }

  /** Charges `bytes` already taken (a read of a socket); returns how many ms to wait before reading more. */
  take(bytes: number): number {
    if (!(this.rate > 0)) return 0;
    const now = this.now();
    this.#due = Math.max(this.#due, now) + (bytes * 1000) / this.rate;
    return Math.max(0, this.#due - now - BURST_MS);
  }
}

/** A source that paces its own reads (of a socket: the bytes wait in the kernel, not in Ferry). */
export interface PaceableReadable extends Readable {
  /** From now on, reads no faster than `bucket` allows; each read's bytes are charged as they come. */
  pace(bucket: TokenBucket): void;
}

export function isPaceable(r: Readable): r is PaceableReadable {
  return typeof (r as Partial<PaceableReadable>).pace === 'function';
}

export type Direction = 'upload' | 'download';

/** The buckets of one process, per user and direction; owned by whoever builds the storages. */
export class RateBuckets {
  readonly #buckets = new Map<string, TokenBucket>();

  /** The user's bucket for `direction`, its rate set to `rate` (0 or undefined: unlimited). */
  bucket(username: string, direction: Direction, rate: number | undefined): TokenBucket {
    const key = `${direction}\0${username}`;
    let b = this.#buckets.get(key);
    if (!b) this.#buckets.set(key, (b = new TokenBucket(0)));
    b.rate = rate ?? 0;
    return b;
  }
}

/** Passes bytes on no faster than `bucket` allows; its timer is cleared when the stream is destroyed. */
export class Throttle extends Transform {
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly bucket: TokenBucket) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    // Slices of a tenth of a second's bytes, so that sessions sharing a bucket interleave and a slow
    // rate sends something every so often (1 KiB at least: at 1 KB/s, a piece a second; 16 KiB
    // slices left a client 16 s without a byte, and its stall timeout gave up).
    const slice = Math.max(MIN_SLICE, Math.floor(this.bucket.rate / 10));
    const next = (offset: number): void => {
      this.#timer = undefined;
      if (offset >= chunk.length) return done();
      const piece = chunk.subarray(offset, offset + slice);
      const wait = this.bucket.reserve(piece.length);
      const send = (): void => {
        this.push(piece);
        next(offset + piece.length);
      };
      if (wait > 0) this.#timer = setTimeout(send, wait);
      else send();
    };
    next(0);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    done(err);
  }
}
