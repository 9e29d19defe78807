import { close, constants, fstat, ftruncateSync, open, write, writeSync } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { encodeText, hasRawBytes } from '../protocol/byte-text.js';
import { SlowIo } from './slow-io.js';

/**
 * A download's local file, written from one reused buffer (an upload's is read by upload-file.ts).
 * A TLS data connection delivers 16 KiB records: written one by one (or as fs.WriteStream batches
 * them, one 16 KiB write whenever none is in flight), a 1 GiB download costs ~11,000 thread-pool
 * writes, each a wake-up of a pool thread and of the event loop, and 65,536 short-lived buffers
 * held until written. Copied into a reused buffer and written synchronously instead, no buffer
 * outlives its record.
 */

/**
 * Bytes per file write of a download. A large write gets large page-cache folios, which on the
 * development VM often came from memory the host had not backed yet, and the kernel's copy into
 * them then cost several times more (1 GiB RETR from Pure-FTPd, each run right after a curl run:
 * system CPU 2.0-2.7 s with 256 KiB writes against 0.74-0.95 s with 32 KiB in one series,
 * 0.67-1.31 against 0.73-0.86 in another; curl's own 16 KiB writes 0.8-1.5 s). 32,768 synchronous
 * writes per GiB cost less than that risk.
 */
export const DOWNLOAD_BUFFER = 32 * 1024;

/**
 * Bytes per file write of a download through the thread pool, from two buffers in turn: one fills
 * while the other is written. Each pool write costs a wake-up of a pool thread and one of the event
 * loop: in 32 KiB writes from one buffer (the socket paused meanwhile) `ferry get` of 1 GiB into a
 * pipe took 3.9-5.5 CPU s, 2.1-2.9 in two 256 KiB buffers (64 KiB: 3.9-4.2, 1 MiB: 2.5-2.8; into
 * a file, larger writes cost more system time: 1 MiB 4.4-4.8 against 4.1-4.7).
 */
export const POOL_WRITE = 256 * 1024;

export interface FileSinkOptions {
  /**
   * Write from this byte on (resume: what is before it stays); default 0: the file is emptied when
   * the first byte arrives, never before (an empty download that succeeded: by the caller, emptyFile).
   */
  readonly start?: number;
  /** A write slower than this, in ms, counts as slow (tests pass -1: every write is slow). */
  readonly slowWriteMs?: number;
  /** Write through the thread pool from the start (a disk known to be slow, a network filesystem). */
  readonly threaded?: boolean;
  /** Permission bits of a file the sink creates (the umask applies); default 0o666. */
  readonly mode?: number;
}

/** The file opened for a download, whether this open created it, and whether it must be emptied. */
interface Target {
  readonly fd: number;
  readonly created: boolean;
  /** An existing regular file taking a whole download (a device or a pipe has nothing to empty). */
  readonly truncate: boolean;
  /**
   * Written at positions (a file, a disk); a pipe, a FIFO or a terminal takes writes in order only
   * (a positioned write fails there with ESPIPE).
   */
  readonly seekable: boolean;
}

const openFd = promisify(open);
const fstatFd = promisify(fstat);

/**
 * The path for fs calls: a remote name with bytes that are not UTF-8 (byte-text.ts) gets those
 * bytes locally too (a string would be written as UTF-8, each such byte as U+FFFD).
 */
export function fsPath(p: string): string | Buffer {
  return hasRawBytes(p) ? encodeText(p) : p;
}

/**
 * Opens (or creates) a download's file without truncating it: a download the server refuses (550:
 * no such remote file, permission denied) or that fails before its first byte leaves a file that
 * was there as it was. Creation is tried first with O_EXCL (a new file with `mode`, less the umask),
 * so that the sink knows (without a stat) whether a file it leaves empty is its own to remove.
 */
async function openTarget(name: string, start: number, mode = 0o666): Promise<Target> {
  const path = fsPath(name);
  if (start === 0) {
    try {
      return { fd: await openFd(path, 'wx', mode), created: true, truncate: false, seekable: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  // A FIFO's open waits for its reader, as curl's does.
  const fd = await openFd(path, start > 0 ? 'r+' : constants.O_WRONLY | constants.O_CREAT, 0o666).catch(
    (err: unknown) => {
      throw start > 0 ? missingAtOffset(err, name, start) : err;
    },
  );
  try {
    const st = await fstatFd(fd);
    const seekable = !st.isFIFO() && !st.isCharacterDevice() && !st.isSocket();
    if (seekable) checkPositioned(fd, name);
    return { fd, created: false, truncate: start === 0 && st.isFile(), seekable };
  } catch (err) {
    close(fd, () => {});
    throw err;
  }
}

/**
 * An offset writes into a file that has the bytes before it: a missing one is not created (its first
 * `start` bytes would be zeros), and the error says why rather than a bare `ENOENT … open`.
 */
function missingAtOffset(err: unknown, name: string, start: number): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err;
  return Object.assign(
    new Error(
      `Cannot download into ${name} at offset ${start}: the file does not exist (an offset writes into an existing file; use offset 0 to create it).`,
    ),
    { code: 'ENOENT' },
  );
}

/** After a whole download of an empty remote file: the local file is emptied too (a regular file). */
export async function emptyFile(name: string): Promise<void> {
  await endFileAt(name, 0);
}

/**
 * After a download at an offset: the local file ends where the remote file did (`end`), not with
 * the old bytes that were beyond it. Only a regular file is cut (a pipe or a device has no end).
 */
export async function endFileAt(name: string, end: number): Promise<void> {
  const path = fsPath(name);
  const st = await stat(path);
  if (st.isFile() && st.size > end) await truncate(path, end);
}

/**
 * Fails for a target that stats as a regular file but takes no positioned writes (/proc/version):
 * an empty write at offset 0 changes nothing in a file, and fails at once (ESPIPE) there, before
 * anything is asked of the server.
 */
function checkPositioned(fd: number, name: string): void {
  try {
    writeSync(fd, EMPTY, 0, 0, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESPIPE') throw err;
    throw Object.assign(
      new Error(
        `Cannot download into ${name}: it is not a regular file, a pipe or a terminal (it takes no writes at an offset).`,
      ),
      { code: 'ESPIPE' },
    );
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A download's local file: chunks are copied into one reused buffer, written out each time it is
 * full: synchronously (handed to the thread pool, a write cost a thread wake-up each way, more than
 * the write: `ferry get` of 1 GiB from Pure-FTPd took 2.2-2.3 CPU s instead of 2.5-3.9) until writes
 * turn slow, then through the thread pool (POOL_WRITE). Everything received is on disk once the stream has
 * finished or closed: a destroyed sink (abort, failed transfer) writes out what it held first, so a
 * resume continues exactly after the last byte received.
 */
export class FileSink extends Writable {
  readonly path: string;
  #fd: number | undefined;
  /** Where the next write goes; null: in order (a pipe, a terminal). */
  #pos: number | null;
  readonly #mode: number | undefined;
  #created = false;
  /** An existing file opened for a whole download: emptied before the first write (#beforeWrite). */
  #truncate = false;
  /** The buffer being filled: DOWNLOAD_BUFFER bytes, POOL_WRITE once writes go through the pool. */
  #buf: Buffer = Buffer.allocUnsafeSlow(DOWNLOAD_BUFFER);
  #fill = 0;
  /** The other pool buffer, when no write of it is in flight. */
  #spare: Buffer | undefined;
  #error: Error | undefined;
  #io: SlowIo;
  /** A thread-pool write is in flight; `#waiting` runs when it is done. */
  #writing = false;
  #waiting: (() => void) | undefined;

  constructor(path: string, o: FileSinkOptions = {}, target?: Target) {
    super({ highWaterMark: DOWNLOAD_BUFFER });
    this.path = path;
    this.#pos = o.start ?? 0;
    this.#mode = o.mode;
    this.#io = new SlowIo({ slowMs: o.slowWriteMs, threaded: o.threaded });
    if (target) this.#opened(target);
  }

  /**
   * A sink whose file is open: a file that cannot be opened or created (EACCES, EISDIR, ENOENT…)
   * rejects here, before anything is asked of the server (`new FileSink` opens it in the background
   * and fails the stream instead).
   */
  static async open(path: string, o: FileSinkOptions = {}): Promise<FileSink> {
    return new FileSink(path, o, await openTarget(path, o.start ?? 0, o.mode));
  }

  /** Whether this sink created the file (it did not exist before). */
  get created(): boolean {
    return this.#created;
  }

  /** Whether writes go through the thread pool (the disk was slow). */
  get threaded(): boolean {
    return this.#io.threaded;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    if (this.#fd !== undefined) return cb();
    openTarget(this.path, this.#pos ?? 0, this.#mode).then((t) => {
      this.#opened(t);
      cb();
    }, cb);
  }

  #opened(t: Target): void {
    this.#fd = t.fd;
    this.#created = t.created;
    this.#truncate = t.truncate;
    if (!t.seekable) {
      this.#pos = null;
      // A pipe's reader may stop reading (`| less`): a write then waits in the thread pool, never
      // in the event loop.
      this.#io = new SlowIo({ threaded: true });
    }
  }

  /** Counts `n` bytes written at #pos. */
  #advance(n: number): void {
    if (this.#pos !== null) this.#pos += n;
  }

  /** Empties an existing file once, before the first bytes of a whole download are written. */
  #beforeWrite(fd: number): void {
    if (!this.#truncate) return;
    this.#truncate = false;
    ftruncateSync(fd, 0);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#take(chunk, 0, cb);
  }

  /**
   * Takes the first `n` bytes of `chunk` at once, without keeping a reference to it (the caller
   * reuses it: tls-download.ts). Returns how many it took: all `n` while nothing waits before them
   * and a buffer has room; fewer (or none) once both pool buffers are full (the disk or the pipe is
   * slower than the connection) or the file is not open yet. The rest must then be written as
   * usual, as a copy.
   */
  takeNow(chunk: Buffer, n: number): number {
    if (this.#fd === undefined || this.writableLength > 0 || this.writableEnded || this.destroyed) return 0;
    const at = this.#copySync(chunk, 0, n);
    if (this.#error) this.destroy(this.#error);
    return at;
  }

  /** Copies `chunk` from `at` into the buffers, waiting for the thread pool where both are full. */
  #take(chunk: Buffer, at: number, cb: (err?: Error | null) => void): void {
    at = this.#copySync(chunk, at, chunk.length);
    if (at < chunk.length && !this.#error) {
      this.#waiting = () => this.#take(chunk, at, cb);
      return;
    }
    cb(this.#error);
  }

  /**
   * Copies `chunk[at, end)` into the buffer, writing it out each time it is full: synchronously, or
   * handed to the thread pool while the other buffer fills; stops at a full buffer while the other
   * is still being written. Returns where it stopped.
   */
  #copySync(chunk: Buffer, at: number, end: number): number {
    while (at < end && !this.#error) {
      if (this.threaded && this.#buf.length < POOL_WRITE) this.#grow();
      const n = chunk.copy(this.#buf, this.#fill, at, end);
      at += n;
      this.#fill += n;
      if (this.#fill < this.#buf.length) continue;
      if (!this.threaded) this.#flush();
      else if (this.#writing) break;
      else this.#startWrite();
    }
    return at;
  }

  /** The buffer at POOL_WRITE bytes, with what it holds (writes have just gone to the thread pool). */
  #grow(): void {
    const buf = Buffer.allocUnsafeSlow(POOL_WRITE);
    this.#buf.copy(buf, 0, 0, this.#fill);
    this.#buf = buf;
  }

  /** Writes out what the buffer holds (a short write continues); a failure is kept in #error. */
  #flush(): void {
    const fd = this.#fd;
    this.#io.time(() => {
      let off = 0;
      try {
        if (fd !== undefined) this.#beforeWrite(fd);
        while (fd !== undefined && off < this.#fill) {
          const n = writeSync(fd, this.#buf, off, this.#fill - off, this.#pos);
          off += n;
          this.#advance(n);
        }
      } catch (err) {
        this.#fail(err);
      }
    });
    this.#fill = 0;
  }

  #fail(err: unknown): void {
    this.#error ??= err instanceof Error ? err : new Error(String(err));
  }

  /**
   * Hands what the buffer holds to the thread pool and goes on filling the other buffer (none may
   * be in flight). Once written, #waiting runs; with nothing waiting, a failure destroys the sink.
   */
  #startWrite(): void {
    const fd = this.#fd;
    const buf = this.#buf;
    const len = this.#fill;
    const pos = this.#pos;
    try {
      if (fd !== undefined) this.#beforeWrite(fd);
    } catch (err) {
      return this.#fail(err);
    }
    this.#buf = this.#spare ?? Buffer.allocUnsafeSlow(POOL_WRITE);
    this.#spare = undefined;
    this.#fill = 0;
    this.#advance(len);
    this.#writing = true;
    const written = (): void => {
      this.#writing = false;
      this.#spare = buf;
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting();
      else if (this.#error) this.destroy(this.#error);
    };
    const next = (off: number): void => {
      if (fd === undefined || off >= len) return written();
      write(fd, buf, off, len - off, pos === null ? null : pos + off, (err, n) => {
        if (err) {
          this.#fail(err);
          return written();
        }
        next(off + n);
      });
    };
    next(0);
  }

  /** Writes out everything held, after any write in flight, the way writes go now; then `done`. */
  #flushAll(done: () => void): void {
    if (this.#writing) {
      this.#waiting = () => this.#flushAll(done);
      return;
    }
    if (this.#error || this.#fill === 0) return done();
    if (!this.threaded) {
      this.#flush();
      return done();
    }
    this.#startWrite();
    this.#flushAll(done);
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Nothing received leaves the file as it was, even here: the end of the data is not yet a
    // download that succeeded (a 426 may follow, or fewer bytes than announced). The caller empties
    // it once it did (unwritten).
    this.#flushAll(() => cb(this.#error));
  }

  /**
   * An existing file taking a whole download that received no byte: still as it was. Once the
   * download succeeded (the remote file is empty), the caller empties it (emptyFile).
   */
  get unwritten(): boolean {
    return this.#truncate;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // What was received is written out before the file closes (a resume continues after it).
    // A chunk waiting for the write in flight is dropped: the file holds a prefix of what arrived.
    this.#flushAll(() => {
      const fd = this.#fd;
      this.#fd = undefined;
      if (fd === undefined) return cb(err);
      close(fd, (closeErr) => cb(err ?? closeErr));
    });
  }
}
