import { performance } from 'node:perf_hooks';

/**
 * A read or write of the page cache takes tens of microseconds; one that takes longer is a disk
 * that cannot keep up (a cold read, a kernel throttling a writer with too much dirty) or a network
 * filesystem. After SLOW_IOS of them in a row a local file goes through the thread pool: the event
 * loop of an application that embeds the client must not wait for the disk. Until then its reads
 * and writes are synchronous, as handing one to the thread pool costs a thread wake-up each way.
 * In a row: a slow disk is slow read after read, while on a machine with more runnable threads than
 * cores a page-cache read is now and then preempted past 10 ms (5-24 of 1,024 reads of 1 MiB at a
 * load of 12 on 2 cores, never two in a row), which said nothing of the disk and sent a 1 GiB
 * upload's reads to the thread pool after its first hundred.
 */
const SLOW_IO_MS = 10;
const SLOW_IOS = 3;

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

  /** @param now The clock operations are timed by, in ms (tests pass their own). */
  constructor(
    o: SlowIoOptions = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#slowMs = o.slowMs ?? SLOW_IO_MS;
    if (o.threaded) this.#slow = SLOW_IOS;
  }

  /** Whether operations should now go through the thread pool. */
  get threaded(): boolean {
    return this.#slow >= SLOW_IOS;
  }

  /** Runs `op` (synchronous file I/O), counting it when it was slow; a fast one starts the count over. */
  time<T>(op: () => T): T {
    if (this.threaded) return op();
    const before = this.now();
    try {
      return op();
    } finally {
      this.#slow = this.now() - before > this.#slowMs ? this.#slow + 1 : 0;
    }
  }
}
