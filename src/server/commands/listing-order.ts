// The order LIST, NLST and STAT give a directory's entries in: by name, as vsftpd, ProFTPD and
// Pure-FTPd sort theirs (a command-line client shows the server's order), or as the ls options
// a client sends ask (`LIST -lt`: newest first).
import type { FileStat } from '../../storage/types.js';

/**
 * A directory of up to this many entries is sorted; a bigger one is sent in directory order as
 * the storage reads it, so that one listing never holds more than this many entries in memory.
 */
export const SORTED_AT_MOST = 10_000;
/** Entries per batch handed on once sorted (what a storage batch holds, about). */
const BATCH = 512;

export interface ListingOrder {
  /** `-t`: newest first; `-S`: largest first; `-U`/`-f`: directory order. */
  readonly by: 'name' | 'time' | 'size' | 'none';
  /** `-r`: the other way round. */
  readonly reverse: boolean;
}

export const BY_NAME: ListingOrder = { by: 'name', reverse: false };
/** MLSD's: machines read it, and RFC 3659 asks for no order. */
export const AS_STORED: ListingOrder = { by: 'none', reverse: false };

/**
 * The order the ls option words ask for (`-l -t`, `-ltr`, `--sort=size`), GNU ls's rules: the
 * last of `-t`, `-S`, `-U` wins; `-f` means `-U`; `-r` reverses whichever it is.
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
  return { by, reverse };
}

const SORT_WORDS: Readonly<Record<string, ListingOrder['by']>> = {
  name: 'name',
  time: 'time',
  size: 'size',
  none: 'none',
};

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

/** `a` before `b` by name: plain `<` where no name holds a character where it is wrong (the usual). */
function names(held: readonly FileStat[]): (a: string, b: string) => number {
  if (held.some((e) => WIDE.test(e.name))) return byName;
  return (a, b) => (a < b ? -1 : a > b ? 1 : 0);
}

function comparator(
  { by, reverse }: ListingOrder,
  held: readonly FileStat[],
): (a: FileStat, b: FileStat) => number {
  const sign = reverse ? -1 : 1;
  const name = names(held);
  // Ties (same time or size) by name, as ls does; newest and largest first.
  if (by === 'time')
    return (a, b) => sign * (b.modified.getTime() - a.modified.getTime() || name(a.name, b.name));
  if (by === 'size') return (a, b) => sign * (b.size - a.size || name(a.name, b.name));
  return (a, b) => sign * name(a.name, b.name);
}

/**
 * `batches` in `order`: held until the directory ends and then sorted, or, past `atMost` entries,
 * handed on as they came (the ones held first), the rest as the storage reads them. An empty
 * batch comes first, once the storage's first batch is in.
 * `progress` is told of each batch held, as the command time limit needs (StorageContext.progress).
 */
export async function* ordered(
  batches: AsyncIterable<readonly FileStat[]>,
  order: ListingOrder,
  progress?: () => void,
  atMost = SORTED_AT_MOST,
): AsyncGenerator<readonly FileStat[]> {
  if (order.by === 'none' && !order.reverse) return yield* batches;
  const held: FileStat[] = [];
  const it = batches[Symbol.asyncIterator]();
  try {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      for (const e of r.value) held.push(e);
      if (held.length > atMost) {
        yield held;
        // The rest as it comes: a huge directory costs a batch of memory, not all of it.
        for (r = await it.next(); !r.done; r = await it.next()) yield r.value;
        return;
      }
      progress?.();
      // Nothing yet, once the directory has given its first batch: a caller that reads a first
      // batch before it commits (LIST's 150, STAT's 212) learns then that the directory can be
      // read, and a listing that fails later fails after that reply, as an unsorted one does.
      if (held.length === r.value.length) yield [];
    }
  } finally {
    await it.return?.(); // the storage's listing closed however this one ends
  }
  if (order.by === 'none') held.reverse();
  else held.sort(comparator(order, held));
  for (let i = 0; i < held.length; i += BATCH) yield held.slice(i, i + BATCH);
}
