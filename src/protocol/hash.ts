/**
 * HASH (draft-bryan-ftpext-hash-02): the algorithms, their names on the wire, the FEAT line, the
 * 213 reply, and CRC32 (which node:crypto lacks). Pure: the server feeds the bytes.
 */

export const HASH_ALGORITHMS = ['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export const DEFAULT_HASH: HashAlgorithm = 'SHA-256';

/** An algorithm by its name, case-insensitive (`sha-256`); undefined when not one of ours. */
export function parseHashAlgorithm(name: string): HashAlgorithm | undefined {
  const upper = name.trim().toUpperCase();
  return HASH_ALGORITHMS.find((a) => a === upper);
}

/** FEAT line: every algorithm, the selected one marked with `*`. */
export function formatHashFeat(selected: HashAlgorithm): string {
  return `HASH ${HASH_ALGORITHMS.map((a) => (a === selected ? `${a}*` : a)).join(';')}`;
}

/** The 213 reply text: `SHA-256 0-1234 9f86d0… name` (the range covers the whole file: end = size). */
export function formatHashReply(alg: HashAlgorithm, size: number, hex: string, path: string): string {
  return `${alg} 0-${size} ${hex} ${path}`;
}

/** A 213 reply to HASH: algorithm, range and hex digest; undefined when it is not one. */
export function parseHashReply(
  text: string,
): { algorithm: string; start: number; end: number; hex: string } | undefined {
  const m = /^(\S+) (\d+)-(\d+) ([0-9a-fA-F]+)(?: |$)/.exec(text);
  if (!m) return undefined;
  return { algorithm: m[1] ?? '', start: Number(m[2]), end: Number(m[3]), hex: (m[4] ?? '').toLowerCase() };
}

/**
 * The HASH reply among a 213's lines: ProFTPD's mod_digest says what it computes first
 * (`213-Computing SHA-256 digest`, then `213 SHA-256 0-2 <hex> path`), so every line is tried, the
 * last first; a repeated code (`213-` or `213 ` on a middle line) or an indent is no part of it.
 */
export function findHashReply(
  lines: readonly string[],
): { algorithm: string; start: number; end: number; hex: string } | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = parseHashReply((lines[i] ?? '').replace(/^(?:\d{3}[- ])?\s*/, ''));
    if (parsed) return parsed;
  }
  return undefined;
}

function crcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
const CRC_TABLE = crcTable();

/** CRC-32 (IEEE 802.3, as zip and gzip), fed in pieces. */
export class Crc32 {
  private crc = 0xffffffff;
  update(data: Uint8Array): this {
    let c = this.crc;
    for (let i = 0; i < data.length; i++) c = (CRC_TABLE[(c ^ (data[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
    this.crc = c;
    return this;
  }
  /** 8 hex digits. */
  digest(): string {
    return ((this.crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
  }
}
