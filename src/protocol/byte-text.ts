/**
 * Client side: text that keeps the bytes that are not UTF-8. A server without UTF8 in FEAT (vsftpd,
 * ProFTPD) sends names as the bytes on its disk, Latin-1 `l\xe9tin.txt` included; they must go back
 * byte for byte. As Python's "surrogateescape": a byte that is not part of valid UTF-8 becomes the
 * lone surrogate U+DC00+byte (U+DC80..U+DCFF, since ASCII is always valid), and encodeText turns
 * such a surrogate back into its byte. Valid UTF-8 is unchanged both ways.
 */

// ignoreBOM: a leading U+FEFF is part of the name (`\ufeffnotes.txt` is not `notes.txt`); without it
// the decoder drops it, and each run decodeSlowly decodes on its own would lose its own too.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes as UTF-8, each byte outside a valid sequence as U+DC00+byte. */
export function decodeBytes(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return decodeSlowly(bytes);
  }
}

/** The length of the valid UTF-8 sequence at `i`, or 0 (RFC 3629 ranges). */
function sequenceAt(b: Uint8Array, i: number): number {
  const lead = b[i] ?? 0;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const c = b[i + k];
    return c !== undefined && c >= lo && c <= hi;
  };
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return cont(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const [lo, hi] = lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const [lo, hi] = lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

function decodeSlowly(bytes: Uint8Array): string {
  let out = '';
  let run = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceAt(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += strict.decode(bytes.subarray(run, i)) + String.fromCharCode(0xdc00 + (bytes[i] ?? 0));
    run = ++i;
  }
  return out + strict.decode(bytes.subarray(run));
}

/** A lone U+DC80..U+DCFF (with the u flag a surrogate pair is one code point and never matches). */
const escaped = /([\u{DC80}-\u{DCFF}])/u;

/** True when the text holds bytes that are not UTF-8 (as decodeBytes keeps them). */
export function hasRawBytes(text: string): boolean {
  return escaped.test(text);
}

/** The bytes of text from decodeBytes: U+DC80..U+DCFF back to their byte, the rest UTF-8. */
export function encodeText(text: string): Buffer {
  if (!hasRawBytes(text)) return Buffer.from(text, 'utf8');
  const parts = text.split(escaped);
  return Buffer.concat(
    parts.map((p, k) => (k % 2 === 1 ? Buffer.of(p.charCodeAt(0) - 0xdc00) : Buffer.from(p, 'utf8'))),
  );
}

/** For display: each kept byte as `\xNN` (printed as it is, a lone surrogate would show as U+FFFD). */
export function showRawBytes(text: string): string {
  return text.replace(new RegExp(escaped.source, 'gu'), (c) => {
    return `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`;
  });
}

/**
 * Percent-decoding (URLs) that takes bytes that are not UTF-8 (`%E9` as U+DCE9, as decodeBytes);
 * undefined for a `%` not followed by two hex digits.
 */
export function percentDecode(text: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) return undefined;
  const parts = text.split(/((?:%[0-9A-Fa-f]{2})+)/);
  return decodeBytes(
    Buffer.concat(
      parts.map((p, k) => (k % 2 === 1 ? Buffer.from(p.replaceAll('%', ''), 'hex') : encodeText(p))),
    ),
  );
}
