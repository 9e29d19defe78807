import { Writable } from 'node:stream';
import { FerryError } from '../errors.js';
import { decodeBytes } from '../protocol/byte-text.js';

/** A collector for listings (the bytes of a transfer are counted by transfer.ts). */

/**
 * A Writable that collects everything written to it (for listings), up to `maxBytes`: beyond it
 * the sink fails with ERR_LIMIT, which ends the transfer (a server's endless listing would
 * otherwise take all memory: the data keeps coming, so no timeout fires).
 */
export function collector(maxBytes: number): { sink: Writable; text(): string } {
  const chunks: Buffer[] = [];
  let total = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > maxBytes) {
        done(
          new FerryError(
            'ERR_LIMIT',
            `The listing is larger than ${maxBytes} bytes (maxListingBytes): it was stopped.`,
          ),
        );
        return;
      }
      chunks.push(chunk);
      done();
    },
  });
  return { sink, text: () => decodeBytes(Buffer.concat(chunks)) };
}
