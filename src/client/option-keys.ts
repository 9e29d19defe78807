import { closestName } from '../closest-name.js';
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
    const near = closestName(key, known);
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${where}.${key}: unknown option${near === undefined ? '' : ` (did you mean ${near}?)`}.`,
    );
  }
}
