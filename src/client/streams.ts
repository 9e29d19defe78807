import { PassThrough } from 'node:stream';
import { decodeBytes } from '../protocol/byte-text.js';

/** A collector for listings (the bytes of a transfer are counted by transfer.ts). */

/** A Writable that collects everything written to it (for listings). */
export function collector(): { sink: PassThrough; text(): string } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, text: () => decodeBytes(Buffer.concat(chunks)) };
}
