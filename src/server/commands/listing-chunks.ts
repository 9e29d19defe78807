import type { FileStat } from '../../storage/types.js';

/** How a listing's lines become bytes (see listingChunks). */
export type LineEncoding = 'utf8' | 'latin1';

/** Bytes of listing text per write: few writes and few TLS records, memory bounded. */
export const CHUNK_BYTES = 128 * 1024;
/** Room past CHUNK_BYTES, so that a chunk rarely ends early for want of space for one more line. */
const SLACK = 32 * 1024;

/**
 * Formats the storage's batches into chunks of about CHUNK_BYTES (few writes, few event-loop
 * turns), with backpressure, so a 100,000-entry directory never sits in memory. The first batch
 * leaves at once, so the client sees the listing start while the rest is read. Each line is
 * encoded straight into the chunk's buffer: a string built up over thousands of lines would be a
 * tree of pieces that every young-generation GC copies (for MLSD, half the listing's GC time).
 */
export async function* listingChunks(
  batches: AsyncIterable<readonly FileStat[]>,
  format: (st: FileStat) => string,
  /** 'latin1': `format` gives a legacy set's bytes, one code unit each (LegacyCharset.byteString). */
  encoding: LineEncoding = 'utf8',
): AsyncGenerator<Buffer> {
  // A new buffer for each chunk: a yielded one is the socket's until written.
  const fresh = (atLeast = 0): Buffer => Buffer.allocUnsafe(Math.max(CHUNK_BYTES + SLACK, atLeast));
  let out = fresh();
  let at = 0;
  let first = true;
  for await (const batch of batches) {
    for (const st of batch) {
      const line = format(st);
      // At most 3 bytes of UTF-8 per UTF-16 unit, and the CRLF.
      const most = line.length * 3 + 2;
      if (at + most > out.length) {
        if (at > 0) yield out.subarray(0, at);
        out = fresh(most);
        at = 0;
      }
      at += out.write(line, at, encoding);
      out[at++] = 0x0d;
      out[at++] = 0x0a;
    }
    if (at > 0 && (first || at >= CHUNK_BYTES)) {
      yield out.subarray(0, at);
      out = fresh();
      at = 0;
      first = false;
    }
  }
  if (at > 0) yield out.subarray(0, at);
}
