import { readFileSync } from 'node:fs';

/**
 * The process umask, read without changing it: process.umask() with no argument sets it twice, a
 * race with the thread pool creating files meanwhile. Linux tells it in /proc/self/status; where
 * that cannot be read, 022 (the usual one) is assumed.
 */
let known: number | undefined;

export function processUmask(): number {
  if (known === undefined) {
    let text = '';
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      // not Linux
    }
    const m = /^Umask:\s*([0-7]+)\s*$/m.exec(text);
    known = m?.[1] !== undefined ? Number.parseInt(m[1], 8) : 0o022;
  }
  return known;
}
