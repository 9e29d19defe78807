import { Transform, type Readable } from 'node:stream';

/**
 * A check that an object-mode stream carries bytes, to pipe it through before a socket; undefined
 * for a byte stream, whose push() refused anything else already (so the hot path pays nothing). A
 * socket given an object throws from inside pipe(), uncaught: the whole process ends. Buffers,
 * other byte views and strings (UTF-8, as a socket writes them) pass as Buffers; any other chunk
 * fails the check with `fault` of what it is (`an object`).
 */
export function byteCheck(src: Readable, fault: (what: string) => Error): Transform | undefined {
  if (!src.readableObjectMode) return undefined;
  return new Transform({
    writableObjectMode: true,
    transform(chunk: unknown, _encoding, done) {
      if (Buffer.isBuffer(chunk)) done(null, chunk);
      else if (ArrayBuffer.isView(chunk))
        done(null, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      else if (typeof chunk === 'string') done(null, Buffer.from(chunk));
      else done(fault(kindOf(chunk)));
    },
  });
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
