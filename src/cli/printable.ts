import { showRawBytes } from '../protocol/byte-text.js';

/** Text from a server made safe for a terminal (a name or a reply may hold a terminal escape). */

/**
 * What a terminal must not be given raw: control characters (ESC starts an escape sequence), format
 * characters (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066-9 isolates, U+200B, U+FEFF: they reorder or hide
 * the rest of the line on a bidi-aware terminal) and the line and paragraph separators U+2028,
 * U+2029. ZWNJ and ZWJ (U+200C, U+200D) stay: Persian and Indic names and emoji need them, and they
 * move nothing.
 */
const UNSAFE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * A message for the terminal: the characters above escaped (a TAB or ESC in a file name); line
 * breaks kept; bytes of a name that are not UTF-8 as \xNN.
 */
export function printable(text: string): string {
  return showRawBytes(text.replace(UNSAFE, (c) => (c === '\n' ? c : escaped(c))));
}

/** A file name for the terminal: every character above escaped, a line feed too (one name, one line). */
export function printableName(name: string): string {
  return showRawBytes(name.replace(UNSAFE, escaped));
}

/** `\t`, `\u001b`, `\u202e`, `\u{e0001}`: as JSON and JavaScript write them. */
function escaped(c: string): string {
  const json = JSON.stringify(c).slice(1, -1);
  if (json !== c) return json;
  const code = c.codePointAt(0) ?? 0;
  const hex = code.toString(16);
  return code > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, '0')}`;
}
