/**
 * `fn`, run once at a time: whoever calls while a run is under way gets that run's result instead
 * of starting another (a flood of scrapes costs one gather, not one each).
 */
export function coalesced<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () =>
    (running ??= fn().finally(() => {
      running = undefined;
    }));
}
