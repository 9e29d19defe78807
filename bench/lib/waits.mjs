// Waiting in the benchmarks: deadlines, polling, batches.
import { setTimeout as delay } from 'node:timers/promises';

/** `promise`, or a rejection naming `what` after `ms`. */
export async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 100 ms until it holds (true) or `timeoutMs` passed (false). */
export async function waitFor(cond, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await delay(100);
  }
  return false;
}

/** `fn` over `items`, `size` at a time. */
export async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}
