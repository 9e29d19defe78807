/**
 * A time limit on one command that has no data connection: `expired` runs once `ms` pass, unless
 * `progress` (a local transfer's byte count: HASH reading a large file) moved since the last look,
 * which grants another period. Returns the function that ends the watch (the command finished).
 */
export function boundCommand(
  ms: number,
  progress: () => number | undefined,
  expired: () => void,
): () => void {
  let seen = progress();
  const check = (): void => {
    const now = progress();
    if (now === undefined || now === seen) return expired();
    seen = now;
    timer = setTimeout(check, ms);
  };
  let timer = setTimeout(check, ms);
  return () => clearTimeout(timer);
}
