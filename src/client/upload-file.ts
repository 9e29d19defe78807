import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { dataConnectionError } from './errors.js';
import { SlowIo, type SlowIoOptions } from './slow-io.js';

/**
 * Bytes per file read of an upload. The kernel copies the page cache into the buffer, and the TLS
 * engine encrypts it from there: two buffers of 128 KiB stay in the CPU's cache between the two,
 * two of 1 MiB do not (the copy then took 27 % of the client's CPU, against 5-7 %). Measured with
 * `ferry put` of 1 GiB to Pure-FTPd, six runs each: 1.85 CPU s with 128 KiB read synchronously,
 * 2.06 with 1 MiB read through the thread pool (curl 1.50, Node's start-up 0.27 of Ferry's).
 */
export const UPLOAD_BUFFER = 128 * 1024;

/** Writes `chunk` to `out` and resolves once it has been handed on (its write callback). */
function writeChunk(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * An upload's local file (open, not closed here) from `start` to its end, written to `out` (not
 * ended) from two buffers in turn: one is read into while the other is being written, and a buffer
 * is reused only once its write is done. Reads are synchronous until they turn slow (slow-io.ts),
 * then go through the thread pool.
 */
export async function sendFile(
  fh: FileHandle,
  start: number,
  out: Writable,
  onChunk: (bytes: number) => void,
  o: SlowIoOptions = {},
): Promise<void> {
  // A connection that closes under a pending write fails the upload at once.
  let onClose: (() => void) | undefined;
  const closedEarly = new Promise<never>((_, reject) => {
    onClose = () => reject(dataConnectionError('The data connection closed during the upload.'));
    out.once('close', onClose);
  });
  closedEarly.catch(() => {});
  const io = new SlowIo(o);
  const readInto = async (buf: Buffer, pos: number): Promise<number> =>
    io.threaded
      ? (await fh.read(buf, 0, buf.length, pos)).bytesRead
      : io.time(() => readSync(fh.fd, buf, 0, buf.length, pos));
  try {
    const buffers = [Buffer.allocUnsafeSlow(UPLOAD_BUFFER), Buffer.allocUnsafeSlow(UPLOAD_BUFFER)];
    const writes: (Promise<void> | undefined)[] = [undefined, undefined];
    let pos = start;
    for (let i = 0; ; i ^= 1) {
      const buf = buffers[i] as Buffer;
      const written = writes[i];
      if (written) await Promise.race([written, closedEarly]);
      const bytesRead = await readInto(buf, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const write = writeChunk(out, bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      write.catch(() => {});
      writes[i] = write;
      onChunk(bytesRead);
    }
    for (const written of writes) if (written) await Promise.race([written, closedEarly]);
  } finally {
    if (onClose) out.off('close', onClose);
  }
}
