import type { Reply } from '../protocol/reply.js';
import type { ClientControlConnection } from './control.js';
import { abortedError, ConnectionError } from './errors.js';

/** Waiting with a deadline or an abort signal: for replies, sockets and timers of a transfer. */

/** Rejects when the signal aborts (so a wait can be cut short); `cleanup` removes the listener. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortedError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** A reply within the connection's reply timeout; a missing reply closes the connection. */
export async function replyWithin(control: ClientControlConnection, p: Promise<Reply>): Promise<Reply> {
  const t = delay(control.replyTimeoutMs);
  try {
    const r = await Promise.race([p, t.promise.then(() => undefined)]);
    if (r) return r;
  } finally {
    t.cancel();
  }
  const e = new ConnectionError(`No reply after the transfer within ${control.replyTimeoutMs} ms.`, {
    code: 'ERR_TIMEOUT',
  });
  control.destroy(e);
  throw e;
}
