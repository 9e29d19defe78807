import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Code } from '../protocol/codes.js';
import { Crc32, parseHashAlgorithm, parseHashReply, type HashAlgorithm } from '../protocol/hash.js';
import { isPositiveCompletion, replyLine } from '../protocol/reply.js';
import { fsPath } from './local-file.js';
import { pathArg, type ClientSession } from './session.js';

/**
 * File checksums from the server, for `mirror --verify`: HASH (draft-bryan-ftpext-hash) when FEAT
 * lists it, else the older XSHA256, XSHA1, XMD5 or MD5 commands; and the same digest of a local
 * file. The strongest algorithm the server offers is used.
 */

export interface Checksum {
  readonly algorithm: HashAlgorithm;
  readonly hex: string;
}

/** HASH algorithms in order of preference. */
const PREFERRED: readonly HashAlgorithm[] = ['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32'];

/** Hex digits of each digest (SHA-512: 64 bytes). */
const HEX_DIGITS: Readonly<Record<HashAlgorithm, number>> = {
  'SHA-256': 64,
  'SHA-512': 64 * 2,
  'SHA-1': 40,
  MD5: 32,
  CRC32: 8,
};

/** The older one-algorithm commands and their algorithm. */
const LEGACY: readonly (readonly [string, HashAlgorithm])[] = [
  ['XSHA256', 'SHA-256'],
  ['XSHA512', 'SHA-512'],
  ['XSHA1', 'SHA-1'],
  ['XMD5', 'MD5'],
  ['MD5', 'MD5'],
];

/** How the server can checksum a file (from FEAT), or undefined when it cannot. */
export function checksumMethod(features: ReadonlyMap<string, string>): string | undefined {
  if (features.has('HASH')) return 'HASH';
  return LEGACY.find(([verb]) => features.has(verb))?.[0];
}

/** The server's checksum of a file, or undefined when it offers no way to compute one. */
export async function remoteChecksum(s: ClientSession, path: string): Promise<Checksum | undefined> {
  const c = s.control;
  pathArg(path);
  const hash = s.featureMap.get('HASH');
  if (hash !== undefined) {
    const offered = hash.split(';').map((a) => a.replace('*', '').trim());
    const selected = parseHashAlgorithm(
      hash
        .split(';')
        .find((a) => a.includes('*'))
        ?.replace('*', '') ?? '',
    );
    const best = PREFERRED.find((a) => offered.includes(a));
    if (best && best !== selected && !s.hashSelected) {
      const r = await c.request(`OPTS HASH ${best}`);
      if (isPositiveCompletion(r)) s.hashSelected = best;
    }
    const r = await c.request(`HASH ${path}`);
    const parsed = r.code === Code.FileStatus ? parseHashReply(replyLine(r)) : undefined;
    const algorithm = parsed ? parseHashAlgorithm(parsed.algorithm) : undefined;
    return parsed && algorithm ? { algorithm, hex: parsed.hex } : undefined;
  }
  for (const [verb, algorithm] of LEGACY) {
    if (!s.featureMap.has(verb)) continue;
    const r = await c.request(`${verb} ${path}`);
    if (!isPositiveCompletion(r)) return undefined;
    const hex = new RegExp(`\\b[0-9a-fA-F]{${HEX_DIGITS[algorithm]}}\\b`).exec(r.lines.join(' '))?.[0];
    return hex ? { algorithm, hex: hex.toLowerCase() } : undefined;
  }
  return undefined;
}

const NODE_NAMES: Readonly<Record<Exclude<HashAlgorithm, 'CRC32'>, string>> = {
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
  'SHA-1': 'sha1',
  MD5: 'md5',
};

/** The same digest of a local file (streamed). */
export async function localChecksum(file: string, algorithm: HashAlgorithm): Promise<string> {
  const h = algorithm === 'CRC32' ? new Crc32() : createHash(NODE_NAMES[algorithm]);
  for await (const chunk of createReadStream(fsPath(file))) h.update(chunk as Buffer);
  return h instanceof Crc32 ? h.digest() : h.digest('hex');
}
