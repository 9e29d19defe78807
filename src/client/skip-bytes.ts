import type { Readable } from 'node:stream';

export interface Skipped {
  /** Bytes dropped: fewer than asked when the stream ended first. */
  readonly bytes: number;
  /** Whether the stream goes on after them. */
  readonly more: boolean;
}

/**
 * Reads and drops the first `n` bytes of `stream` (a resumed upload: what the server has already),
 * then tells whether anything follows. The rest stays in the stream to be read as usual: the tail
 * of a chunk that straddles the boundary is put back (unshift). Rejects with `signal`'s reason.
 */
export async function skipBytes(stream: Readable, n: number, signal: AbortSignal): Promise<Skipped> {
  let bytes = 0;
  for (;;) {
    signal.throwIfAborted();
    const chunk: unknown = stream.read();
    if (chunk === null) {
      if (stream.readableEnded) return { bytes, more: false };
      await readableOrEnd(stream, signal);
      continue;
    }
    const buf = bytesOf(chunk);
    const drop = Math.min(n - bytes, buf.length);
    bytes += drop;
    if (drop < buf.length) {
      const rest = buf.subarray(drop);
      // A stream with an encoding holds strings: a Buffer among them would be read as one.
      stream.unshift(typeof chunk === 'string' ? rest.toString() : rest);
      return { bytes, more: true };
    }
  }
}

function bytesOf(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`The stream gave ${typeof chunk} where bytes or text were expected.`);
}

/** Waits until the stream has something to read, has ended, or `signal` aborts. */
function readableOrEnd(stream: Readable, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('readable', done);
      stream.off('end', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.on('readable', done);
    stream.on('end', done);
    signal.addEventListener('abort', done);
  });
}
