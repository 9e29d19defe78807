import { read, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { dataConnectionError } from './errors.js';
import { SlowIo, type SlowIoOptions } from './slow-io.js';

/**
 * Bytes per file read of an upload once the connection has proven fast; each read is one write to
 * the data connection. Every chunk costs a read, a write into the TLS engine, a write callback and a
 * promise: ~17 µs besides its bytes, 0.14 s per GiB in 128 KiB chunks. `ferry put` of 1 GiB to
 * Pure-FTPd, whole-process CPU, medians of 6 interleaved runs: 1.00 s in 128 KiB chunks, 0.89 in
 * 512 KiB, 0.855 in 1 MiB, 0.84 in 2 MiB, curl 0.82.
 */
export const BIG_CHUNK = 1024 * 1024;
/**
 * Bytes per read otherwise. The data timeout counts from a write's start or end (Node refreshes a
 * socket's timer then, not while the kernel takes the bytes), so a write must end well within it
 * however slow the connection: 128 KiB take 60 s at 2 KB/s, 1 MiB at 17 KB/s.
 */
export const SMALL_CHUNK = 128 * 1024;
/** What kernels may take into socket buffers before the peer reads a byte: writes that fast prove nothing. */
const KERNEL_BYTES = 8 * 1024 * 1024;
/** BIG_CHUNK where the rate proven beyond KERNEL_BYTES sends one within this. */
const BIG_CHUNK_SECONDS = 0.25;
/** A write slower than this (the connection slowed down) sends the rest in small chunks. */
const SLOW_WRITE_MS = 1000;

/** Sizes an upload's reads: small until the connection has proven fast, and again once it slows. */
class ChunkSizer {
  #first: number | undefined;
  #done = 0;
  #slowed = false;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Bytes to read for the next write. */
  next(): number {
    if (this.#first === undefined || this.#slowed) return SMALL_CHUNK;
    const seconds = Math.max(this.now() - this.#first, 1) / 1000;
    const proven = (this.#done - KERNEL_BYTES) / seconds;
    return proven * BIG_CHUNK_SECONDS >= BIG_CHUNK ? BIG_CHUNK : SMALL_CHUNK;
  }

  /** A write is issued now: call the function it returns once the write is done. */
  writing(bytes: number): () => void {
    const at = this.now();
    this.#first ??= at;
    return () => {
      this.#done += bytes;
      if (this.now() - at > SLOW_WRITE_MS) this.#slowed = true;
    };
  }
}

export interface SendFileOptions extends SlowIoOptions {
  /** The clock chunks are sized by, in ms (tests pass their own). */
  readonly now?: () => number;
}

/** Writes `chunk` to `out` and resolves once it has been handed on (its write callback). */
function writeChunk(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * A read through the thread pool by fs.read rather than FileHandle.read, whose extra promise and
 * result object cost ~0.1 CPU s per GiB (1 GiB `ferry put` to Pure-FTPd, reads on the pool, 7
 * interleaved rounds: 1.49 s median against 1.37, lower in 6 of 7).
 */
function readAt(fd: number, buf: Buffer, length: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buf, 0, length, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/**
 * An upload's local file (open, not closed here) from `start` to its end, written to `out` (not
 * ended) from two buffers in turn: one is read into while the other is being written, and a buffer
 * is reused only once its write is done. Reads are sized by ChunkSizer, and synchronous until they
 * turn slow (slow-io.ts), then go through the thread pool.
 */
export async function sendFile(
  fh: FileHandle,
  start: number,
  out: Writable,
  onChunk: (bytes: number) => void,
  o: SendFileOptions = {},
): Promise<void> {
  // A connection that closes under a pending write fails the upload at once.
  let onClose: (() => void) | undefined;
  const closedEarly = new Promise<never>((_, reject) => {
    onClose = () => reject(dataConnectionError('The data connection closed during the upload.'));
    out.once('close', onClose);
  });
  closedEarly.catch(() => {});
  const io = new SlowIo(o);
  const readInto = async (buf: Buffer, length: number, pos: number): Promise<number> =>
    io.threaded ? readAt(fh.fd, buf, length, pos) : io.time(() => readSync(fh.fd, buf, 0, length, pos));
  const sizer = new ChunkSizer(o.now);
  try {
    // Each buffer grows to the chunk size when it is first asked for: a small upload never takes
    // 1 MiB (memory outside the heap, which brings V8's garbage collections forward).
    const buffers: (Buffer | undefined)[] = [undefined, undefined];
    const writes: (Promise<void> | undefined)[] = [undefined, undefined];
    let pos = start;
    for (let i = 0; ; i ^= 1) {
      const written = writes[i];
      if (written) await Promise.race([written, closedEarly]);
      const size = sizer.next();
      let buf = buffers[i];
      if (buf === undefined || buf.length < size) buf = buffers[i] = Buffer.allocUnsafeSlow(size);
      const bytesRead = await readInto(buf, size, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const done = sizer.writing(bytesRead);
      const write = writeChunk(out, bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      write.then(done, () => {});
      writes[i] = write;
      onChunk(bytesRead);
    }
    for (const written of writes) if (written) await Promise.race([written, closedEarly]);
  } finally {
    if (onClose) out.off('close', onClose);
  }
}
