import { showRawBytes } from '../protocol/byte-text.js';

/** Text from a server made safe for a terminal (a name or a reply may hold a terminal escape). */

/**
 * A message for the terminal: control characters (a TAB or ESC in a file name) escaped; line breaks
 * kept; bytes of a name that are not UTF-8 as \xNN.
 */
export function printable(text: string): string {
  return showRawBytes(text.replace(/(?!\n)\p{Cc}/gu, escapeControl));
}

/** A file name for the terminal: every control character escaped, a line feed too (one name, one line). */
export function printableName(name: string): string {
  return showRawBytes(name.replace(/\p{Cc}/gu, escapeControl));
}

function escapeControl(c: string): string {
  return JSON.stringify(c).slice(1, -1);
}
