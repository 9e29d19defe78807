import { isUtf8 } from 'node:buffer';
import { isAllowedName } from './virtual-path.js';

/**
 * Why an entry on disk is left out of listings (listing-stat.ts): its name is not UTF-8, or is one
 * no client can address (a control character, a backslash), or it is a FIFO, socket or device.
 */
export type Unlisted = 'not-utf8' | 'unaddressable' | 'special';

/** The name a client addresses `raw` (a readdir name, as bytes) by, or why it has none. */
export function nameOnDisk(raw: Buffer): { readonly name: string } | { readonly unlisted: Unlisted } {
  // Decoded, a name that is not UTF-8 would hold U+FFFD: no client could name it.
  if (!isUtf8(raw)) return { unlisted: 'not-utf8' };
  const name = raw.toString('utf8');
  return isAllowedName(name) ? { name } : { unlisted: 'unaddressable' };
}

const SAID: Readonly<Record<Unlisted, string>> = {
  'not-utf8': 'names that are not valid UTF-8',
  unaddressable: 'names with a control character or a backslash',
  special: 'FIFOs, sockets or devices',
};

/**
 * Why a directory that lists empty is not empty (RMD's 550), naming what it holds; every kind when
 * none is known (what kept it went before it was looked at).
 */
export function unlistedDetail(kinds: ReadonlySet<Unlisted>): string {
  const named = (Object.keys(SAID) as Unlisted[]).filter((k) => kinds.size === 0 || kinds.has(k));
  return `it holds entries that are not listed (${named.map((k) => SAID[k]).join('; ')})`;
}
