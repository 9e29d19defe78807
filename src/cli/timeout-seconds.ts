import { InvalidArgumentError } from 'commander';

/**
 * The longest `--timeout` in seconds: Node's timers take at most 2^31 - 1 ms, and a longer delay
 * fires after 1 ms (a TimeoutOverflowWarning), which would turn a long timeout into none at all.
 */
export const MAX_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** `--timeout <seconds>`: a positive number of seconds a timer can hold, else a usage error. */
export function timeoutSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number.');
  if (n > MAX_TIMEOUT_SECONDS)
    throw new InvalidArgumentError(`at most ${MAX_TIMEOUT_SECONDS} seconds (about 24 days).`);
  return n;
}
