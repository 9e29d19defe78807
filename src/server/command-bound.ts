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
  // Nothing counted yet is 0: a read that has not started (HASH's openRead hanging) and one that
  // started but read nothing have not moved, and get one period, not two.
  const moved = (): number => progress() ?? 0;
  let seen = moved();
  const check = (): void => {
    const now = moved();
    if (now === seen) return expired();
    seen = now;
    timer = setTimeout(check, ms);
  };
  let timer = setTimeout(check, ms);
  return () => clearTimeout(timer);
}
