import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Crc32, type HashAlgorithm } from '../protocol/hash.js';

/**
 * The digest of a stream for HASH. Streaming: each chunk is hashed as it is read and the event loop
 * runs between chunks, so hashing a large file never stalls the other sessions.
 */

const NODE_NAMES: Readonly<Record<Exclude<HashAlgorithm, 'CRC32'>, string>> = {
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
  'SHA-1': 'sha1',
  MD5: 'md5',
};

export async function hashStream(algorithm: HashAlgorithm, src: Readable): Promise<string> {
  if (algorithm === 'CRC32') {
    const crc = new Crc32();
    for await (const chunk of src) crc.update(chunk as Buffer);
    return crc.digest();
  }
  const h = createHash(NODE_NAMES[algorithm]);
  for await (const chunk of src) h.update(chunk as Buffer);
  return h.digest('hex');
}
