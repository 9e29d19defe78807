import { FerryError } from '../errors.js';

/**
 * How long work (an embedder's storage) may take to stop once its signal aborts. Far longer than a
 * well-behaved backend needs to reject (a file closed, a multipart upload's abort sent); short
 * enough that one ignoring its signal holds ABOR, QUIT and server.close() only this long.
 */
export const ABANDON_AFTER_MS = 1_000;

export interface Abandon {
  /** Once it aborts, `work` has `afterMs` to settle. */
  readonly signal: AbortSignal;
  /** Once it aborts, `work` is abandoned at once (the connection was destroyed: nothing waits). */
  readonly now?: AbortSignal;
  /** Told when `work` is abandoned for not stopping within `afterMs` (once). */
  readonly abandoned: () => void;
  readonly afterMs?: number;
}

/**
 * `work`, settled as it settles, unless it is abandoned (see Abandon): this then rejects with
 * ERR_ABORTED, and what `work` does later (resolve or reject) is ignored.
 */
export function abandonOnAbort<T>(work: Promise<T>, a: Abandon): Promise<T> {
  const { signal, now } = a;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settled = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', arm);
      now?.removeEventListener('abort', abandon);
    };
    const abandon = (): void => {
      settled();
      reject(
        new FerryError('ERR_ABORTED', 'Abandoned: it did not stop when aborted.', { cause: signal.reason }),
      );
    };
    const arm = (): void => {
      timer = setTimeout(() => (a.abandoned(), abandon()), a.afterMs ?? ABANDON_AFTER_MS);
    };
    if (signal.aborted) arm();
    else signal.addEventListener('abort', arm, { once: true });
    if (now?.aborted) abandon();
    else now?.addEventListener('abort', abandon, { once: true });
    void work.then(
      (v) => (settled(), resolve(v)),
      (err: unknown) => (settled(), reject(err)),
    );
  });
}
