import { Writable } from 'node:stream';
import { FerryError } from '../errors.js';
import { decodeBytes } from '../protocol/byte-text.js';

/** A collector for listings (the bytes of a transfer are counted by transfer.ts). */

/** The bounds of one listing (ClientOptions maxListingBytes, maxListingEntries). */
export interface ListingLimits {
  readonly maxBytes: number;
  /** Lines (line feeds) at most: each entry is a line, and costs ~460 bytes of heap once parsed. */
  readonly maxEntries: number;
}

/**
 * A Writable that collects everything written to it (for listings), up to `maxBytes` and
 * `maxEntries` lines: beyond either the sink fails with ERR_LIMIT, which ends the transfer (a
 * server's endless listing would otherwise take all memory: the data keeps coming, so no timeout
 * fires; and 17-byte MLSD lines within the byte cap parse to 25 times their size).
 */
export function collector(limits: ListingLimits): { sink: Writable; text(): string } {
  const { maxBytes, maxEntries } = limits;
  const chunks: Buffer[] = [];
  let total = 0;
  let lines = 0;
  const limit = (what: string): FerryError =>
    new FerryError('ERR_LIMIT', `The listing ${what}: it was stopped.`);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > maxBytes) return done(limit(`is larger than ${maxBytes} bytes (maxListingBytes)`));
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      // The last line may lack its line feed: one more than the cap is the (cap+1)th entry.
      if (lines > maxEntries) return done(limit(`has more than ${maxEntries} entries (maxListingEntries)`));
      chunks.push(chunk);
      done();
    },
  });
  return { sink, text: () => decodeBytes(Buffer.concat(chunks)) };
}
