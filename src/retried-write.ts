// The writing of changes a store keeps until they are taken (quota usage and bans in PostgreSQL,
// usage.json on a full disk): one flush at a time, a retry a second after a failure, the log of the
// failures (RetryLog), and a last attempt at close. One copy: each store had its own.
import type { Logger } from './logger.js';
import { RetryLog, type RetryMessages } from './retry-log.js';

const RETRY_MS = 1000;

export class RetriedWrite {
  /** The write in flight. */
  #flushing: Promise<void> | undefined;
  /** The one after it: what was added since the write in flight began is written by this one. */
  #queued: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #log: RetryLog;

  /**
   * `write` writes what is pending (nothing when nothing is) and throws when it could not: what it
   * did not write stays pending. `pending` describes what is, for the log lines.
   */
  constructor(
    logger: Logger,
    messages: RetryMessages,
    private readonly write: () => Promise<void>,
    private readonly pending: () => object,
  ) {
    this.#log = new RetryLog(logger, messages);
  }

  /**
   * Writes what is pending; resolves when written, or when the write failed (then retried). A write
   * in flight may have taken what was pending before this change: the caller waits for the next
   * one, shared by every caller meanwhile, so that a steady stream of changes never keeps one waiting.
   */
  flush(): Promise<void> {
    if (this.#flushing === undefined) return this.#start();
    this.#queued ??= this.#flushing.then(() => {
      this.#queued = undefined;
      return this.#start();
    });
    return this.#queued;
  }

  #start(): Promise<void> {
    const run: Promise<void> = this.#attempt().finally(() => {
      if (this.#flushing === run) this.#flushing = undefined;
    });
    this.#flushing = run;
    return run;
  }

  /** A write made elsewhere failed (its change is pending now): logged, and retried in a second. */
  failed(err: unknown): void {
    this.#log.failed({ ...this.pending(), err: (err as Error).message });
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.flush(), RETRY_MS);
    this.#retry.unref();
  }

  /** No more retries; a last attempt (after the one in flight: changes may have come since). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await (this.#queued ?? this.#flushing);
    await this.flush();
  }

  async #attempt(): Promise<void> {
    try {
      await this.write();
    } catch (err) {
      this.failed(err);
      return;
    }
    this.#log.succeeded();
  }
}
