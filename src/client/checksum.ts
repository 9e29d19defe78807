import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Code } from '../protocol/codes.js';
import { Crc32, findHashReply, parseHashAlgorithm, type HashAlgorithm } from '../protocol/hash.js';
import { ReplyError } from '../errors.js';
import { isNegative, isPositiveCompletion, replyLine, type Reply } from '../protocol/reply.js';
import { checksumReply } from './checksum-reply.js';
import { remoteSize } from './files.js';
import { fsPath } from './local-file.js';
import { keysOf } from './option-keys.js';
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

/**
 * The slowest a server is expected to read a file it hashes, in bytes per ms (10 MB/s: a busy disk,
 * a backend over a 100 Mbit/s network; page cache and local disks give 150 MB/s and more).
 */
const HASH_FLOOR_BYTES_PER_MS = 10_000;

/**
 * How long the reply to a checksum of `size` bytes may take once the server reads it. The server
 * reads the whole file before it answers and says nothing meanwhile: HASH and XSHA256… have no
 * preliminary reply. No silence can be told from work, so the reply timeout is stretched by the
 * time the file takes at the floor rate: a 16 GB file may take 27 min more. Size unknown: the reply
 * timeout. A command that waits its turn first is given it again from its start (checksum-reply.ts).
 */
export function checksumTimeoutMs(replyTimeoutMs: number, size: number | undefined): number {
  return replyTimeoutMs + Math.ceil((size ?? 0) / HASH_FLOOR_BYTES_PER_MS);
}

export interface ChecksumOptions {
  /** The file's size when already known (from a listing): no SIZE is sent to learn it. */
  readonly size?: number;
}
export const CHECKSUM_OPTION_KEYS = keysOf<ChecksumOptions>({ size: true });

/** How the server can checksum a file (from FEAT), or undefined when it cannot. */
export function checksumMethod(features: ReadonlyMap<string, string>): string | undefined {
  if (features.has('HASH')) return 'HASH';
  return LEGACY.find(([verb]) => features.has(verb))?.[0];
}

/**
 * The server's checksum of a file, or undefined when it offers no way to compute one (or none of
 * its replies has a checksum to read). A refusal rejects with it (ReplyError).
 */
export async function remoteChecksum(
  s: ClientSession,
  path: string,
  o: ChecksumOptions = {},
): Promise<Checksum | undefined> {
  const c = s.control;
  pathArg(path);
  if (checksumMethod(s.featureMap) === undefined) return undefined;
  const size = o.size ?? (await remoteSize(s, path));
  const budget = (bytesLeft: number | undefined): number => checksumTimeoutMs(c.replyTimeoutMs, bytesLeft);
  // The last command the server turned down as unknown to it: thrown if no other one answers.
  let refused: ReplyError | undefined;
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
    const r = await checksumReply(c, `HASH ${path}`, budget, size);
    refused = refusal(r, `HASH ${path}`);
    const parsed = r.code === Code.FileStatus ? findHashReply(r.lines) : undefined;
    const algorithm = parsed ? parseHashAlgorithm(parsed.algorithm) : undefined;
    if (parsed && algorithm) return { algorithm, hex: parsed.hex };
    // A HASH reply that gives nothing usable: the older commands, where offered, may.
  }
  for (const [verb, algorithm] of LEGACY) {
    if (!s.featureMap.has(verb)) continue;
    const r = await checksumReply(c, `${verb} ${path}`, budget, size);
    refused = refusal(r, `${verb} ${path}`) ?? refused;
    if (!isPositiveCompletion(r)) continue;
    const hex = new RegExp(`\\b[0-9a-fA-F]{${HEX_DIGITS[algorithm]}}\\b`).exec(r.lines.join(' '))?.[0];
    if (hex) return { algorithm, hex: hex.toLowerCase() };
  }
  if (refused) throw refused;
  return undefined;
}

/** Replies saying the command itself is not there (another one may be): the next is tried. */
const NOT_THERE: ReadonlySet<number> = new Set([
  Code.SyntaxError,
  Code.NotImplemented,
  Code.NotImplementedForParam,
]);

/**
 * A negative reply as a ReplyError: thrown at once when it is about the file or the server's state
 * (550 no such file, 450 busy: every other command would say the same), returned when the command
 * is not there after all (500, 502, 504), to throw if no other command answers. Undefined otherwise.
 */
function refusal(r: Reply, command: string): ReplyError | undefined {
  if (!isNegative(r)) return undefined;
  const err = new ReplyError(r.code, replyLine(r), command);
  if (NOT_THERE.has(r.code)) return err;
  throw err;
}

const NODE_NAMES: Readonly<Record<Exclude<HashAlgorithm, 'CRC32'>, string>> = {
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
  'SHA-1': 'sha1',
  MD5: 'md5',
};

/** The same digest of a local file (streamed), or of its first `length` bytes. */
export async function localChecksum(
  file: string,
  algorithm: HashAlgorithm,
  length?: number,
): Promise<string> {
  const h = algorithm === 'CRC32' ? new Crc32() : createHash(NODE_NAMES[algorithm]);
  // `end` is inclusive: no byte at all cannot be asked for, so nothing is read then.
  const range = length === undefined ? {} : { start: 0, end: length - 1 };
  if (length !== 0)
    for await (const chunk of createReadStream(fsPath(file), range)) h.update(chunk as Buffer);
  return h instanceof Crc32 ? h.digest() : h.digest('hex');
}
