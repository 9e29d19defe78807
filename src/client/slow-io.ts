import { performance } from 'node:perf_hooks';

/**
 * A read or write of the page cache takes tens of microseconds; one that takes longer is a disk
 * that cannot keep up (a cold read, a kernel throttling a writer with too much dirty) or a network
 * filesystem. After SLOW_IOS of them a local file goes through the thread pool: the event loop of
 * an application that embeds the client must not wait for the disk. Until then its reads and
 * writes are synchronous, as handing one to the thread pool costs a thread wake-up each way.
 */
const SLOW_IO_MS = 10;
const SLOW_IOS = 2;

export interface SlowIoOptions {
  /** An operation slower than this, in ms, counts as slow (tests pass -1: every one is slow). */
  readonly slowMs?: number;
  /** Through the thread pool from the start (a disk known to be slow, a network filesystem). */
  readonly threaded?: boolean;
}

/** Counts a local file's slow synchronous operations, to tell when it should go to the thread pool. */
export class SlowIo {
  readonly #slowMs: number;
  #slow = 0;

  constructor(o: SlowIoOptions = {}) {
    this.#slowMs = o.slowMs ?? SLOW_IO_MS;
    if (o.threaded) this.#slow = SLOW_IOS;
  }

  /** Whether operations should now go through the thread pool. */
  get threaded(): boolean {
    return this.#slow >= SLOW_IOS;
  }

  /** Runs `op` (synchronous file I/O), counting it when it was slow. */
  time<T>(op: () => T): T {
    const before = performance.now();
    try {
      return op();
    } finally {
      if (performance.now() - before > this.#slowMs) this.#slow++;
    }
  }
}
