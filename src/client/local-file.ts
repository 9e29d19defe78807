import { close, open, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { dataConnectionError } from './errors.js';

/**
 * Local files of downloads and uploads, moved in large buffers that are reused. A TLS data
 * connection delivers 16 KiB records: written one by one (or as fs.WriteStream batches them, one
 * 16 KiB write whenever none is in flight), a 1 GiB download costs ~11,000 thread-pool writes, each
 * a wake-up of a pool thread and of the event loop, and 65,536 short-lived buffers held until
 * written. Copied into reused 256 KiB buffers instead, it costs 4,096 writes, made on the spot
 * (writeSync: no thread wake-up), and no buffer outlives its record. An upload reads the file into two buffers in turn, each written to the data
 * connection while the other is read into, instead of a fresh allocation (and page faults) per read.
 */

/**
 * Bytes per file write of a download: few writes (4,096 per GiB), yet small enough
 * that the buffer is still in the CPU cache when the kernel copies it (measured on a 1 GiB RETR
 * against vsftpd: 1 MiB buffers doubled the kernel's copy time, 256 KiB cut the total by a quarter).
 */
export const DOWNLOAD_BUFFER = 256 * 1024;
/** Bytes per file read of an upload (1 MiB measured best: one TLS write of 64 records per read). */
export const UPLOAD_BUFFER = 1024 * 1024;

export interface FileSinkOptions {
  /** Write from this byte on (resume: 'r+' keeps what is there); default: truncate and start at 0. */
  readonly start?: number;
}

/**
 * A download's local file: chunks are copied into a buffer that is written out when full, while
 * the next one fills (two buffers in turn). Everything received is on disk once the stream has
 * finished or closed: a destroyed sink (abort, failed transfer) writes out what it held first, so a
 * resume continues exactly after the last byte received.
 */
export class FileSink extends Writable {
  readonly path: string;
  #fd: number | undefined;
  #pos: number;
  #created = false;
  #current: Buffer | undefined;
  #fill = 0;
  readonly #free: Buffer[] = [];
  #buffers = 0;
  #writing = 0;
  #error: Error | undefined;
  /** Called when a write completes (a copy waits for a buffer, or the end for all writes). */
  readonly #onWritten: (() => void)[] = [];

  constructor(path: string, o: FileSinkOptions = {}) {
    super({ highWaterMark: DOWNLOAD_BUFFER });
    this.path = path;
    this.#pos = o.start ?? 0;
  }

  /** Whether this sink created the file (it did not exist before). */
  get created(): boolean {
    return this.#created;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    const opened = (err: Error | null, fd: number): void => {
      if (err) return cb(err);
      this.#fd = fd;
      cb();
    };
    // From the start: create the file if it is new (telling so without a stat), else truncate it.
    if (this.#pos > 0) return open(this.path, 'r+', opened);
    open(this.path, 'wx', 0o666, (err, fd) => {
      if (!err) {
        this.#created = true;
        return opened(null, fd);
      }
      if (err.code !== 'EEXIST') return cb(err);
      open(this.path, 'w', 0o666, opened);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#error) return cb(this.#error);
    const cur = this.#current;
    // The common case: the chunk fits in the current buffer, no wait.
    if (cur && this.#fill + chunk.length < cur.length) {
      chunk.copy(cur, this.#fill);
      this.#fill += chunk.length;
      return cb();
    }
    this.#take(chunk).then(() => cb(this.#error), cb);
  }

  async #take(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (!this.#current) {
        this.#current = await this.#buffer();
        this.#fill = 0;
      }
      const n = chunk.copy(this.#current, this.#fill, off);
      off += n;
      this.#fill += n;
      if (this.#fill === this.#current.length) this.#flush();
    }
  }

  /** A free buffer: a new one while there are fewer than two, else the first one written out. */
  async #buffer(): Promise<Buffer> {
    for (;;) {
      if (this.#error) throw this.#error;
      const free = this.#free.pop();
      if (free) return free;
      if (this.#buffers < 2) {
        this.#buffers++;
        return Buffer.allocUnsafeSlow(DOWNLOAD_BUFFER);
      }
      await this.#written();
    }
  }

  #written(): Promise<void> {
    return new Promise((resolve) => this.#onWritten.push(resolve));
  }

  /** Writes out the current buffer and frees it when done. */
  #flush(): void {
    const buf = this.#current;
    const len = this.#fill;
    this.#current = undefined;
    this.#fill = 0;
    if (!buf || len === 0 || this.#fd === undefined) {
      if (buf) this.#free.push(buf);
      return;
    }
    const pos = this.#pos;
    this.#pos += len;
    this.#writing++;
    this.#writeAll(this.#fd, buf, 0, len, pos, (err) => {
      this.#writing--;
      this.#free.push(buf);
      if (err && !this.#error) this.#error = err;
      for (const w of this.#onWritten.splice(0)) w();
    });
  }

  /**
   * Writes all `len` bytes (a short write continues), synchronously, then calls `done` on the next
   * tick. A write into the page cache takes tens of microseconds; handed to the thread pool it cost
   * a thread wake-up each way, more than the write: `ferry get` of 1 GiB from Pure-FTPd took 2.2-2.3
   * CPU s instead of 2.5-3.9 (three runs each, alternating).
   */
  #writeAll(
    fd: number,
    buf: Buffer,
    off: number,
    len: number,
    pos: number,
    done: (err: Error | null) => void,
  ): void {
    try {
      while (len > 0) {
        const n = writeSync(fd, buf, off, len, pos);
        off += n;
        pos += n;
        len -= n;
      }
    } catch (err) {
      process.nextTick(done, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    process.nextTick(done, null);
  }

  /** Until no write is in flight. */
  async #drain(): Promise<void> {
    while (this.#writing > 0) await this.#written();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#flush();
    this.#drain().then(() => cb(this.#error), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // What was received is written out before the file closes (a resume continues after it); a
    // copy still waiting for a buffer stops.
    if (!this.#error) this.#flush();
    this.#error ??= err ?? new Error('The file was closed.');
    this.#drain()
      .catch(() => {})
      .then(() => {
        const fd = this.#fd;
        this.#fd = undefined;
        this.#free.length = 0;
        if (fd === undefined) return cb(err);
        close(fd, (closeErr) => cb(err ?? closeErr));
      });
  }
}

/** Writes `chunk` to `out` and resolves once it has been handed on (its write callback). */
function writeChunk(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * An upload's local file (open, not closed here) from `start` to its end, written to `out` (not
 * ended): two buffers in
 * turn, each read while the other is being written, so reading the file and sending overlap with
 * at most two buffers in memory, and each goes to the data connection with one write.
 */
export async function sendFile(
  fh: FileHandle,
  start: number,
  out: Writable,
  onChunk: (bytes: number) => void,
): Promise<void> {
  // A connection that closes under a pending write fails the upload at once.
  let onClose: (() => void) | undefined;
  const closedEarly = new Promise<never>((_, reject) => {
    onClose = () => reject(dataConnectionError('The data connection closed during the upload.'));
    out.once('close', onClose);
  });
  closedEarly.catch(() => {});
  try {
    const buffers = [Buffer.allocUnsafeSlow(UPLOAD_BUFFER), Buffer.allocUnsafeSlow(UPLOAD_BUFFER)];
    let pos = start;
    let writing: Promise<void> | undefined;
    for (let i = 0; ; i ^= 1) {
      // This buffer's previous write (two rounds ago) was awaited before the last write began.
      const buf = buffers[i] as Buffer;
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      if (writing) await Promise.race([writing, closedEarly]);
      writing = writeChunk(out, bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      writing.catch(() => {});
      onChunk(bytesRead);
    }
    if (writing) await Promise.race([writing, closedEarly]);
  } finally {
    if (onClose) out.off('close', onClose);
  }
}
