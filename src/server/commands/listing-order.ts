// The order LIST, NLST and STAT give a directory's entries in: by name, as vsftpd, ProFTPD and
// Pure-FTPd sort theirs (a command-line client shows the server's order), or as the ls options
// a client sends ask (`LIST -lt`: newest first).
import type { FileStat } from '../../storage/types.js';

/**
 * A directory of up to this many entries is sorted; a bigger one is sent in directory order as
 * the storage reads it, so that one listing never holds more than this many entries in memory.
 */
export const SORTED_AT_MOST = 10_000;
/**
 * Entries all of a process's listings may hold at once to sort them (~300 bytes each, held as a
 * STAT's entries; ~150 as a LIST's lines, ordered-chunks.ts): past it a
 * listing goes on in directory order, so that many sessions listing big directories at once cannot
 * run a process out of memory (a worker serves thousands of sessions).
 */
export const HELD_PER_PROCESS = 100_000;
/** Entries per batch handed on once sorted (what a storage batch holds, about). */
const BATCH = 512;

export interface ListingOrder {
  /** `-t`: newest first; `-S`: largest first; `-U`/`-f`: directory order. */
  readonly by: 'name' | 'time' | 'size' | 'none';
  /** `-r`: the other way round (not of `none`, as GNU ls). */
  readonly reverse: boolean;
}

export const BY_NAME: ListingOrder = { by: 'name', reverse: false };
/** MLSD's: machines read it, and RFC 3659 asks for no order. */
export const AS_STORED: ListingOrder = { by: 'none', reverse: false };

/**
 * The order the ls option words ask for (`-l -t`, `-ltr`, `--sort=size`), GNU ls's rules: the
 * last of `-t`, `-S`, `-U` wins; `-f` means `-U` (and `-a`: listing.ts); `-r` reverses a sort.
 */
export function listingOrder(flags: string): ListingOrder {
  let by: ListingOrder['by'] = 'name';
  let reverse = false;
  for (const word of flags.split(' ')) {
    if (word === '--reverse') reverse = true;
    else if (word.startsWith('--sort=')) by = SORT_WORDS[word.slice(7)] ?? by;
    else if (/^-[^-]/.test(word))
      for (const c of word.slice(1)) {
        if (c === 'r') reverse = true;
        else if (c === 't') by = 'time';
        else if (c === 'S') by = 'size';
        else if (c === 'U' || c === 'f') by = 'none';
      }
  }
  return { by, reverse: reverse && by !== 'none' };
}

const SORT_WORDS: Readonly<Record<string, ListingOrder['by']>> = {
  name: 'name',
  time: 'time',
  size: 'size',
  none: 'none',
};

/** The entries a process's listings hold to sort them (HELD_PER_PROCESS): one per server. */
export class HeldEntries {
  #free: number;

  constructor(readonly most = HELD_PER_PROCESS) {
    this.#free = most;
  }

  /** Takes `n` if free. */
  take(n: number): boolean {
    if (n > this.#free) return false;
    this.#free -= n;
    return true;
  }

  give(n: number): void {
    this.#free = Math.min(this.most, this.#free + n);
  }

  /** Free now (tests). */
  get free(): number {
    return this.#free;
  }
}

/**
 * UTF-16 code units ranked as their code points are (and so as the names' UTF-8 bytes, strcmp's
 * order): a surrogate (a character beyond U+FFFF) after U+E000–U+FFFF, where plain `<` puts it before.
 */
const rank = (u: number): number => (u < 0xd800 ? u : u < 0xe000 ? u + 0x2000 : u - 0x800);

/** Names in code point order. */
export function byName(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** A character whose UTF-16 order is not its code point order (see `rank`). */
const WIDE = /[\ud800-\uffff]/;

/** What sorting held entries compares, by position: their names, times (ms) and sizes. */
export interface SortKeys {
  readonly names: readonly string[];
  readonly times: readonly number[];
  readonly sizes: readonly number[];
}

/**
 * The positions 0..n-1 of the entries `keys` describe, in `order` (not `none`): by name, or newest
 * and largest first as ls, ties by name; `-r` the other way round. Positions rather than the entries
 * themselves: a caller may hold its entries in any form (ordered-chunks.ts: encoded lines).
 */
export function positionsInOrder({ names, times, sizes }: SortKeys, order: ListingOrder): number[] {
  // Plain `<` where no name holds a WIDE character (the usual): a third of the cost of byName.
  const name = names.some((n) => WIDE.test(n))
    ? (i: number, j: number): number => byName(names[i] ?? '', names[j] ?? '')
    : (i: number, j: number): number => {
        const a = names[i] ?? '';
        const b = names[j] ?? '';
        return a < b ? -1 : a > b ? 1 : 0;
      };
  const compare =
    order.by === 'time'
      ? (i: number, j: number): number => (times[j] ?? 0) - (times[i] ?? 0) || name(i, j)
      : order.by === 'size'
        ? (i: number, j: number): number => (sizes[j] ?? 0) - (sizes[i] ?? 0) || name(i, j)
        : name;
  const positions = Array.from({ length: names.length }, (_, i) => i).sort(compare);
  return order.reverse ? positions.reverse() : positions;
}

/** The sort keys of `held`. */
function keysOf(held: readonly FileStat[]): SortKeys {
  return {
    names: held.map((e) => e.name),
    times: held.map((e) => e.modified.getTime()),
    sizes: held.map((e) => e.size),
  };
}

/**
 * `batches` in `order`: held until the directory ends and then sorted, or, past `atMost` entries
 * or what `budget` has free, handed on as they came (the ones held first), the rest as the storage
 * reads them. An empty batch comes first, once the storage's first batch is in. `held` is told of
 * each batch held (the command time limit and the data idle timeout must see the listing move).
 */
export async function* ordered(
  batches: AsyncIterable<readonly FileStat[]>,
  order: ListingOrder,
  o: { budget?: HeldEntries; held?: () => void; atMost?: number } = {},
): AsyncGenerator<readonly FileStat[]> {
  if (order.by === 'none') return yield* batches;
  const { budget = new HeldEntries(Infinity), held: told, atMost = SORTED_AT_MOST } = o;
  let held: FileStat[] = [];
  let opened = false;
  const it = batches[Symbol.asyncIterator]();
  try {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (held.length + r.value.length > atMost || !budget.take(r.value.length)) {
        budget.give(held.length);
        // Too many to sort: what is held, then the rest as it comes (a batch of memory at a time).
        yield held.splice(0).concat(r.value);
        for (r = await it.next(); !r.done; r = await it.next()) yield r.value;
        return;
      }
      for (const e of r.value) held.push(e);
      told?.();
      // Nothing yet, once the directory has given its first batch: a caller that reads a first
      // batch before it commits (LIST's 150, STAT's 212) learns then that the directory can be
      // read, and a listing that fails later fails after that reply, as an unsorted one does.
      if (!opened) {
        opened = true;
        yield [];
      }
    }
    // Sent from the end, last first, so each batch sent is memory (and budget) given back.
    const read = held;
    held = positionsInOrder(keysOf(read), order)
      .reverse()
      .map((i) => read[i] as FileStat);
    while (held.length > 0) {
      const batch = held.splice(Math.max(0, held.length - BATCH)).reverse();
      budget.give(batch.length);
      yield batch;
    }
  } finally {
    budget.give(held.length);
    await it.return?.(); // the storage's listing closed however this one ends
  }
}
