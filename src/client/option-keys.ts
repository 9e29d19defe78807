import { FerryError } from '../errors.js';

/**
 * Options objects checked for keys they should not have: a misspelt key (`securty`, `singal`) in an
 * object TypeScript did not check (built in a variable, or plain JavaScript) would otherwise be
 * ignored without a word, and the call go on without what was asked for.
 */

/** The keys of T as a list: the compiler checks that it names every key of T and no other. */
export function keysOf<T>(keys: Record<keyof T, true>): readonly string[] {
  return Object.keys(keys);
}

/**
 * Refuses the first key of `given` that is not in `known` (ERR_INVALID_OPTION), naming the known
 * key it is likely a misspelling of. `where` names the object: `options`, `get() options`.
 */
export function refuseUnknownKeys(
  given: object | null | undefined,
  known: readonly string[],
  where: string,
): void {
  if (given === null || given === undefined) return;
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${where}.${key}: unknown option${near === undefined ? '' : ` (did you mean ${near}?)`}.`,
    );
  }
}

/** The known key nearest to `key`, if near enough to be what was meant (about a third of it differs). */
function closest(key: string, known: readonly string[]): string | undefined {
  const most = Math.max(1, Math.floor(key.length / 3));
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = distance(key.toLowerCase(), name.toLowerCase());
    if (d <= most && (best === undefined || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Edits from a to b: insertions, deletions, substitutions and swaps of neighbours (`singal`). */
function distance(a: string, b: string): number {
  const w = b.length + 1;
  const d: number[] = [];
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  for (let i = 0; i <= a.length; i++) {
    for (let j = 0; j <= b.length; j++) {
      if (i === 0 || j === 0) {
        d[i * w + j] = i + j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}
