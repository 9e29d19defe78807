import { PassThrough, Transform, type TransformCallback } from 'node:stream';

/** Streams a transfer passes its data through: a byte counter, and a collector for listings. */

/** Counts bytes per chunk (never per byte) and reports them. */
export function counter(onChunk: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      onChunk(chunk.length);
      cb(null, chunk);
    },
  });
}

/** A Writable that collects everything written to it (for listings). */
export function collector(): { sink: PassThrough; text(): string } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, text: () => new TextDecoder('utf-8').decode(Buffer.concat(chunks)) };
}
