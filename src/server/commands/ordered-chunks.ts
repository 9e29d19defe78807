// A listing's text in the order asked for (LIST, NLST): a sorted one holds its entries as their
// lines, encoded, until the directory ends.
import type { FileStat } from '../../storage/types.js';
import { CHUNK_BYTES, listingChunks, type LineEncoding } from './listing-chunks.js';
import { HeldEntries, positionsInOrder, SORTED_AT_MOST, type ListingOrder } from './listing-order.js';

/**
 * `batches` formatted by `format` into chunks as listingChunks makes them, in `order`. A sorted
 * listing formats each entry as it comes and holds its line as UTF-8 bytes, off the JavaScript heap,
 * with only the keys the order compares: holding the entries instead (a FileStat, its Date and
 * strings: ~300 bytes each, copied by every young-generation GC until promoted) made a sorted
 * 10,000-entry LIST cost a third more than an unsorted one. Past `atMost` entries or what `budget`
 * has free, the lines held go as they came and the rest as the storage reads them. `held` is told
 * of each batch held (the command time limit and the data idle timeout must see the listing move).
 */
export async function* orderedChunks(
  batches: AsyncIterable<readonly FileStat[]>,
  order: ListingOrder,
  format: (st: FileStat) => string,
  o: { budget?: HeldEntries; held?: () => void; atMost?: number; encoding?: LineEncoding } = {},
): AsyncGenerator<Buffer> {
  const { budget = new HeldEntries(Infinity), held: told, atMost = SORTED_AT_MOST, encoding = 'utf8' } = o;
  if (order.by === 'none') return yield* listingChunks(batches, format, encoding);
  const lines = new HeldLines(order.by, encoding);
  const it = batches[Symbol.asyncIterator]();
  try {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (lines.count + r.value.length > atMost || !budget.take(r.value.length)) {
        // Too many to sort: what is held as it came, then the rest (a batch of memory at a time).
        if (lines.count > 0) yield lines.asRead();
        budget.give(lines.clear());
        yield* listingChunks(rest(r.value, it), format, encoding);
        return;
      }
      for (const st of r.value) lines.add(st, format(st));
      told?.();
    }
    yield* lines.inOrder(order);
  } finally {
    budget.give(lines.count); // once sent: the lines are held until then
    await it.return?.(); // the storage's listing closed however this one ends
  }
}

/** `first`, then what `it` has left. */
async function* rest<T>(first: T, it: AsyncIterator<T>): AsyncGenerator<T> {
  yield first;
  for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
}

/** Lines held to be sorted: their bytes end to end in one buffer, with where each starts. */
class HeldLines {
  #bytes = Buffer.allocUnsafe(64 * 1024);
  #end = 0;
  readonly #starts: number[] = [];
  readonly #names: string[] = [];
  readonly #times: number[] = [];
  readonly #sizes: number[] = [];

  constructor(
    readonly by: 'name' | 'time' | 'size',
    readonly encoding: LineEncoding,
  ) {}

  get count(): number {
    return this.#names.length;
  }

  add(st: FileStat, line: string): void {
    // At most 3 bytes of UTF-8 per UTF-16 unit, and the CRLF.
    const most = line.length * 3 + 2;
    if (this.#end + most > this.#bytes.length) {
      const more = Buffer.allocUnsafe(Math.max(2 * this.#bytes.length, this.#end + most));
      this.#bytes.copy(more, 0, 0, this.#end);
      this.#bytes = more;
    }
    this.#starts.push(this.#end);
    this.#names.push(st.name);
    if (this.by === 'time') this.#times.push(st.modified.getTime());
    else if (this.by === 'size') this.#sizes.push(st.size);
    this.#end += this.#bytes.write(line, this.#end, this.encoding);
    this.#bytes[this.#end++] = 0x0d;
    this.#bytes[this.#end++] = 0x0a;
  }

  /** The lines as they came, in one chunk (the socket's until written: clear() next). */
  asRead(): Buffer {
    return this.#bytes.subarray(0, this.#end);
  }

  /** Lets go of the lines; how many there were. */
  clear(): number {
    const n = this.count;
    this.#bytes = Buffer.alloc(0);
    this.#end = 0;
    for (const a of [this.#starts, this.#names, this.#times, this.#sizes]) a.length = 0;
    return n;
  }

  /** The lines in `order`, in chunks of about CHUNK_BYTES. */
  *inOrder(order: ListingOrder): Generator<Buffer> {
    const starts = this.#starts;
    starts.push(this.#end); // a line ends where the next starts
    const keys = { names: this.#names, times: this.#times, sizes: this.#sizes };
    const positions = positionsInOrder(keys, order);
    if (positions.every((p, i) => p === i)) return yield* this.#asHeld();
    let out = Buffer.allocUnsafe(CHUNK_BYTES);
    let at = 0;
    for (const i of positions) {
      const from = starts[i] ?? 0;
      const to = starts[i + 1] ?? 0;
      if (at + to - from > out.length) {
        if (at > 0) yield out.subarray(0, at);
        out = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, to - from));
        at = 0;
      }
      at += this.#bytes.copy(out, at, from, to);
    }
    if (at > 0) yield out.subarray(0, at);
  }

  /**
   * The lines as held, already in order (a local directory's names come sorted: listing-stat.ts), in
   * chunks of about CHUNK_BYTES cut at line ends: views of the held bytes, not copies of each line.
   */
  *#asHeld(): Generator<Buffer> {
    const starts = this.#starts;
    let from = 0;
    for (let i = 1; i < starts.length; i++) {
      const at = starts[i] ?? 0;
      if (at - from >= CHUNK_BYTES || i === starts.length - 1) {
        yield this.#bytes.subarray(from, at);
        from = at;
      }
    }
  }
}
