import type { FerryClient } from './client.js';
import { failureKind, isTransient } from './errors.js';
import { reopen, retryPause, type Reconnect } from './pool.js';

/**
 * The connection a command's own steps run on (a mirror's listing, a batch's pattern expansion, the
 * checks before and after its transfers), with `retries` as the pool gives its files: a step that
 * fails transiently is run again, after a short growing pause on the same connection, or, when the
 * connection was lost (a server restarting), on a new one opened after 1 s, 2 s, 4 s … (pool.ts's
 * reopen). A permanent failure (550) throws at once. Later steps run on the replacement; the
 * replacements are this object's to close.
 */

export interface StepRetryOptions {
  /** Times a step is run again after a transient failure (default 0). */
  readonly retries?: number;
  /** Opens a connection like the given one (without it, a lost connection is not replaced). */
  readonly connect?: () => Promise<FerryClient>;
  readonly signal?: AbortSignal;
  /** A lost connection is about to be opened again. */
  readonly onReconnect?: (r: Reconnect) => void;
}

export class RetriedConnection {
  #current: FerryClient;
  #replacement: FerryClient | undefined;

  constructor(
    given: FerryClient,
    private readonly o: StepRetryOptions,
  ) {
    this.#current = given;
  }

  /** The connection now: the given one, or the replacement of a lost one. */
  get client(): FerryClient {
    return this.#current;
  }

  /** The connection, opened again first when it was lost (no step is retried). */
  async live(): Promise<FerryClient> {
    if (this.#current.closed && this.o.connect) await this.#replace(this.#current.closedReason);
    return this.#current;
  }

  /** Runs `step`; `onRetry` is told of each retry (1-based) and the failure it follows. */
  async run<T>(
    step: (client: FerryClient) => Promise<T>,
    onRetry?: (retry: number, error: unknown) => void,
  ): Promise<T> {
    const retries = this.o.retries ?? 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await step(this.#current);
      } catch (err) {
        const lost = this.#current.closed || failureKind(err) === 'connection';
        const again =
          attempt < retries &&
          !this.o.signal?.aborted &&
          isTransient(err) &&
          (!lost || this.o.connect !== undefined);
        if (!again) throw err;
        onRetry?.(attempt + 1, err);
        if (lost) await this.#replace(err);
        else await retryPause(attempt + 1, this.o.signal);
      }
    }
  }

  /** Closes the replacement, if one was opened (the given connection is the caller's). */
  async close(): Promise<void> {
    await this.#replacement?.close();
  }

  async #replace(lost: unknown): Promise<void> {
    const connect = this.o.connect;
    if (!connect) return;
    const old = this.#replacement;
    this.#current = await reopen(connect, lost, { ...this.o, transient: isTransient });
    this.#replacement = this.#current;
    await old?.close();
  }
}
