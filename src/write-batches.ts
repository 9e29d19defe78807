/**
 * Coalesces writes: the items added while a write runs wait and go together in the next one, so
 * that many callers at once (uploads, logins) mean a few locked read-modify-writes, not one each.
 * Each caller awaits the write its item went in and gets its own result (or the write's error).
 */
export class WriteBatches<I, R> {
  /** The batch still taking items: its write has not started. */
  #open: { items: I[]; done: Promise<readonly R[]> } | undefined;
  #last: Promise<unknown> = Promise.resolve();

  constructor(private readonly write: (items: readonly I[]) => Promise<readonly R[]>) {}

  async add(item: I): Promise<R | undefined> {
    let batch = this.#open;
    if (batch === undefined) {
      const items: I[] = [];
      const run = (): Promise<readonly R[]> => {
        this.#open = undefined; // items added from now go in the next write
        return this.write(items);
      };
      batch = this.#open = { items, done: this.#last.then(run, run) };
      this.#last = batch.done;
    }
    const i = batch.items.push(item) - 1;
    return (await batch.done)[i];
  }
}
