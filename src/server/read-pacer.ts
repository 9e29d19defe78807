import type { TokenBucket } from '../storage/throttle.js';

/**
 * Paces the reads of a connection by a user's bucket, as vsftpd and ProFTPD do by sleeping between
 * reads: each read's bytes are charged as they come, and the next read waits until they are paid
 * for. What waits meanwhile stays in the kernel, so Ferry holds one read per paced upload. Owns one
 * timer, cleared by stop().
 */
export class ReadPacer {
  #timer: NodeJS.Timeout | undefined;

  /** `resume` is called once a wait is over: the caller reads on. */
  constructor(
    private readonly bucket: TokenBucket,
    private readonly resume: () => void,
  ) {}

  /** Charges `n` bytes just read; false: read no more until `resume` is called. */
  took(n: number): boolean {
    const wait = this.bucket.take(n);
    if (wait <= 0) return true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.resume();
    }, wait);
    return false;
  }

  /** Waiting for the rate: the connection is paused by the pacing, not idle. */
  get waiting(): boolean {
    return this.#timer !== undefined;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
