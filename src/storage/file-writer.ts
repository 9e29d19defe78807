// The disk side of an upload to LocalStorage: gathered writes, and writeback started while the
// bytes still arrive so that the fsync before the 226 has little left to do.
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * Bytes gathered per disk write, in at most MAX_BUFFERS buffers (tiny chunks: TYPE A, slow
 * clients). 256 KiB measured best here: 16 KiB writes cost a thread-pool round trip each, and
 * 1 MiB ones copy from buffers that have left the CPU cache (3-4x the CPU per GiB of either).
 */
const BATCH = 256 * 1024;
const MAX_BUFFERS = 1024;
/**
 * Written bytes after which a background fdatasync starts (one at a time). A big upload otherwise
 * leaves all its pages dirty for the final fsync (dirty_background_ratio is a share of RAM): 0.6 to
 * 1.2 s per GiB here, 20-30% of the upload, spent after the last byte and before the 226.
 */
export const SYNC_EVERY = 32 * 1024 * 1024;

/** What FileWriter needs of a FileHandle (a test can watch the calls). */
export type WriteHandle = Pick<FileHandle, 'writev' | 'datasync'>;

export interface FileWriterOptions {
  /** Written bytes after which a background fdatasync starts (default SYNC_EVERY). */
  syncEvery?: number;
  /** Hands each chunk back once written (to its source, a RecyclingReadable, to read into again). */
  recycle?: (chunk: Buffer) => void;
  /** Told of each write taken (a step of the upload: StorageContext.progress). */
  taken?: () => void;
}

/**
 * Writes through `fh` from `start` without owning it: the caller closes `fh` once the stream is
 * done (fs streams close a descriptor they were given when destroyed, whatever autoClose says).
 * Chunks are gathered up to BATCH bytes per write: each write is a round trip to the thread pool,
 * and TLS hands over 16 KiB at a time (65,536 round trips per GiB otherwise). Whatever is gathered
 * is written by `_final`, which also waits for the background fdatasync: a failed one fails the
 * stream (Linux reports a writeback error to one fsync only, so the caller's own could miss it).
 */
export class FileWriter extends Writable {
  bytesWritten = 0;
  #position: number;
  #gathered: Buffer[] = [];
  #gatheredBytes = 0;
  /** bytesWritten when the last background fdatasync started. */
  #syncedTo = 0;
  #syncing: Promise<void> | undefined;
  #syncError: Error | undefined;
  readonly #syncEvery: number;
  readonly #recycle: ((chunk: Buffer) => void) | undefined;
  readonly #taken: (() => void) | undefined;

  constructor(
    private readonly fh: WriteHandle,
    start: number,
    o: FileWriterOptions = {},
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.#position = start;
    this.#syncEvery = o.syncEvery ?? SYNC_EVERY;
    this.#recycle = o.recycle;
    this.#taken = o.taken;
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    if (this.#syncError) return done(this.#syncError);
    this.#taken?.();
    for (const { chunk } of chunks) {
      this.#gathered.push(chunk);
      this.#gatheredBytes += chunk.length;
    }
    // Readable sources hand their chunks over (never reused), so holding them past `done` is safe.
    if (this.#gatheredBytes < BATCH && this.#gathered.length < MAX_BUFFERS) return done();
    this.#flush().then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#flush()
      .then(() => this.#syncing)
      .then(() => done(this.#syncError), done);
  }

  #flush(): Promise<void> {
    const buffers = this.#gathered;
    this.#gathered = [];
    this.#gatheredBytes = 0;
    return this.#write(buffers);
  }

  async #write(chunks: Buffer[]): Promise<void> {
    let buffers = chunks;
    let left = buffers.reduce((n, b) => n + b.length, 0);
    while (left > 0) {
      const { bytesWritten } = await this.fh.writev(buffers, this.#position);
      this.#position += bytesWritten;
      this.bytesWritten += bytesWritten;
      left -= bytesWritten;
      if (left > 0) buffers = [Buffer.concat(buffers).subarray(bytesWritten)]; // short write: rare
    }
    if (this.#recycle) for (const chunk of chunks) this.#recycle(chunk);
    this.#startSync();
  }

  /** Not awaited: the next writes go on while the kernel writes back what is already written. */
  #startSync(): void {
    if (this.#syncing || this.#syncError || this.bytesWritten - this.#syncedTo < this.#syncEvery) return;
    this.#syncedTo = this.bytesWritten;
    this.#syncing = this.fh.datasync().then(
      () => void (this.#syncing = undefined),
      (err: unknown) => {
        this.#syncError = err instanceof Error ? err : new Error(String(err));
        this.#syncing = undefined;
      },
    );
  }
}
