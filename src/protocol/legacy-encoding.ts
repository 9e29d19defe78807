/**
 * The character sets of clients that do not speak UTF-8 (legacyEncoding): single-byte ones, each
 * byte one character both ways, so a name read from a client and sent back is the same bytes and
 * two different byte strings never read as one name. Tables come from the WHATWG decoders Node has
 * (TextDecoder), read once for all 256 bytes; encoding back is that table reversed.
 */

/**
 * CP1252's 0x80-0x9F, where it differs from ISO-8859-1 (the rest is ISO-8859-1's). Node 20's
 * TextDecoder('windows-1252') decodes as ISO-8859-1 (seen on 20.20): 0x80 reads U+0080, not €.
 * The five bytes CP1252 leaves undefined keep their C1 code, as WHATWG's table does.
 */
const CP1252_80_9F =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** The names legacyEncoding takes, and the decoder behind each (undefined: built here). */
const DECODERS = {
  cp1252: undefined,
  latin1: undefined,
  latin9: 'iso-8859-15',
  cp1250: 'windows-1250',
  cp1251: 'windows-1251',
  'koi8-r': 'koi8-r',
  cp866: 'ibm866',
} as const;

export type LegacyEncoding = keyof typeof DECODERS;
export const LEGACY_ENCODINGS = Object.keys(DECODERS) as readonly LegacyEncoding[];

export function isLegacyEncoding(name: string): name is LegacyEncoding {
  return Object.hasOwn(DECODERS, name);
}

/** What stands for a character the encoding cannot hold in a reply (as Windows' own conversion). */
export const UNENCODABLE = '?';

/** A character past U+007F. */
const NOT_ASCII = /[^\p{ASCII}]/u;

export class LegacyCharset {
  /** The character each byte stands for. */
  readonly #chars: string[];
  /** Each character's byte, as a one-unit string (the byte as its code unit: Buffer's 'latin1'). */
  readonly #bytes: ReadonlyMap<string, string>;

  constructor(readonly name: LegacyEncoding) {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const decoder = DECODERS[name];
    const text = decoder ? new TextDecoder(decoder).decode(all) : Buffer.from(all).toString('latin1');
    this.#chars = [...text];
    if (name === 'cp1252') this.#chars.splice(0x80, 0x20, ...CP1252_80_9F);
    this.#bytes = new Map(this.#chars.map((c, i) => [c, String.fromCharCode(i)]));
  }

  /** The line's bytes as text; undefined when a byte has no character here (a hole in the table). */
  decode(bytes: Uint8Array): string | undefined {
    let out = '';
    for (const b of bytes) {
      const c = this.#chars[b] ?? '\uFFFD';
      if (c === '\uFFFD') return undefined;
      out += c;
    }
    return out;
  }

  /** Whether every character of `text` has a byte here (a name a client of this set can send back). */
  holds(text: string): boolean {
    for (const c of text) if (!this.#bytes.has(c)) return false;
    return true;
  }

  /**
   * `text` as a string of bytes, one code unit each (write it with Buffer's 'latin1'); a character
   * the set cannot hold is UNENCODABLE, once per character (a surrogate pair is one).
   */
  byteString(text: string): string {
    if (!NOT_ASCII.test(text)) return text; // every set here keeps ASCII as it is
    let out = '';
    for (const c of text) out += this.#bytes.get(c) ?? UNENCODABLE;
    return out;
  }

  encode(text: string): Buffer {
    return Buffer.from(this.byteString(text), 'latin1');
  }
}
