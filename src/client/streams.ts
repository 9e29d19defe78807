import { PassThrough } from 'node:stream';

/** A collector for listings (the bytes of a transfer are counted by transfer.ts). */

/** A Writable that collects everything written to it (for listings). */
export function collector(): { sink: PassThrough; text(): string } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, text: () => new TextDecoder('utf-8').decode(Buffer.concat(chunks)) };
}
