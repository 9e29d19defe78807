// The log of a write retried until it is taken (quota usage and bans in PostgreSQL, usage.json on
// a full disk): retried every second, it logged a line per attempt, so an outage of a minute wrote
// some 60 lines per user and process. Now: the first failure, then at most one line per interval while it keeps
// failing, and one line when it finally succeeds. No timer of its own: the retries are its clock.
import type { Logger } from './logger.js';

export interface RetryMessages {
  /** The first failure: what is retried. */
  readonly failing: string;
  /** Still failing, at most once per interval: how many attempts failed since the last line. */
  readonly still: string;
  /** Written at last, after failures. */
  readonly done: string;
}

export interface RetryLogOptions {
  /** At most one line per this long while the write keeps failing. Default one minute. */
  readonly intervalMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

export class RetryLog {
  readonly #logger: Logger;
  readonly #messages: RetryMessages;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** When the current run of failures began; undefined while writes succeed. */
  #since: number | undefined;
  #lastLine = 0;
  /** Failed attempts since the last line, and in the whole run. */
  #unreported = 0;
  #failed = 0;

  constructor(logger: Logger, messages: RetryMessages, options: RetryLogOptions = {}) {
    this.#logger = logger;
    this.#messages = messages;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** An attempt failed (`obj`: what is pending, the error); it is retried. */
  failed(obj: object): void {
    const now = this.#now();
    this.#failed++;
    if (this.#since === undefined) {
      this.#since = this.#lastLine = now;
      this.#logger.warn(obj, this.#messages.failing);
      return;
    }
    this.#unreported++;
    if (now - this.#lastLine < this.#intervalMs) return;
    const since = new Date(this.#since).toISOString();
    this.#logger.warn({ ...obj, failed: this.#unreported, since }, this.#messages.still);
    this.#lastLine = now;
    this.#unreported = 0;
  }

  /** An attempt succeeded: one line if attempts had failed before it. */
  succeeded(): void {
    if (this.#since === undefined) return;
    this.#logger.warn({ failed: this.#failed, ms: this.#now() - this.#since }, this.#messages.done);
    this.#since = undefined;
    this.#unreported = 0;
    this.#failed = 0;
  }
}
