import { createHash } from 'node:crypto';
import { addAbortSignal, type Readable } from 'node:stream';
import { Crc32, type HashAlgorithm } from '../protocol/hash.js';
import type { TransferProgress } from './transfers.js';

/**
 * The digest of a stream for HASH. Streaming: each chunk is hashed as it is read and the event loop
 * runs between chunks, so hashing a large file never stalls the other sessions. ABOR (the signal)
 * destroys the stream at once: a 16 GB file need not be read to its end to stop.
 */

const NODE_NAMES: Readonly<Record<Exclude<HashAlgorithm, 'CRC32'>, string>> = {
  'SHA-256': 'sha256',
  'SHA-512': 'sha512',
  'SHA-1': 'sha1',
  MD5: 'md5',
};

/** What a read on the server's side needs of its transfer: a count of its bytes, and its stop. */
export type ReadProgress = Pick<TransferProgress, 'signal' | 'count'>;

/** Hashes `src` to its end; `t` counts the bytes read (STAT shows them) and stops it. */
export async function hashStream(algorithm: HashAlgorithm, src: Readable, t: ReadProgress): Promise<string> {
  const h = algorithm === 'CRC32' ? new Crc32() : createHash(NODE_NAMES[algorithm]);
  for await (const chunk of countedChunks(src, t)) h.update(chunk);
  return h instanceof Crc32 ? h.digest() : h.digest('hex');
}

/**
 * A file read on the server's side (HASH, SIZE in TYPE A): each chunk counted on `t` (STAT shows it,
 * and it tells the command time limit the read moves), ended at once by ABOR.
 */
export async function* countedChunks(src: Readable, t: ReadProgress): AsyncGenerator<Buffer> {
  for await (const chunk of addAbortSignal(t.signal, src)) {
    t.count((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}
