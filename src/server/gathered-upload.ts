import { Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { BufferRing, type RecyclingReadable } from '../storage/recycling.js';
import type { PaceableReadable, TokenBucket } from '../storage/throttle.js';
import { readIntoReusedBuffer } from '../tls/reused-read-buffer.js';
import { ReadPacer } from './read-pacer.js';

/** Bytes per chunk handed to storage: what LocalStorage writes at a time (file-writer.ts). */
export const GATHER_BYTES = 256 * 1024;
/** Chunks in flight at most: two queued here, four in the writer's queue, one filling, one written. */
const KEEP = 8;

/**
 * An upload's bytes as storage reads them, with no Buffer made per read: the data connection is
 * read into one reused buffer (reused-read-buffer.ts) and copied into 256 KiB chunks that come back
 * through `recycle` once written (RecyclingReadable). Read as a stream, each 16 KiB TLS record is a
 * fresh Buffer; once V8 has run a full garbage collection (a server that has been up a while), a
 * 1 GiB upload's worth of them sets off one full collection after another: 2.6-3.0 s of user CPU per
 * GiB instead of 0.7-0.9 (bench/stor-after-sessions.sh).
 *
 * It ends when the connection ends, and fails with the connection's error (a bare FIN's
 * ERR_ABORTED: eof-guard.ts). A connection that closes without either leaves it destroyed without
 * an error, unended, as the connection itself would be. Destroyed before its end (storage failed,
 * an abort), it leaves the connection whole, what comes next dropped: the transfer ends it after
 * its reply (destroyed first, a client sending the upload saw a reset, not the 451 or 426). When
 * `drainsOn` takes the error, the rest is read at once (see `drained`).
 *
 * Paced (a user's upload rate: `pace`), the connection is read at the rate (read-pacer.ts) and each
 * read is passed on at once as a copy: gathering 256 KiB would hold seconds of a slow upload here.
 */
export class GatheredUpload extends Readable implements RecyclingReadable, PaceableReadable {
  readonly #ring = new BufferRing(GATHER_BYTES, KEEP);
  #chunk: Buffer | undefined;
  #fill = 0;
  #ended = false;
  #drained: Promise<void> | undefined;
  /** Destroyed before the connection ended: what it still reads is dropped. */
  #dropping = false;
  #pacer: ReadPacer | undefined;
  /** Bytes read from the connection so far (charged to the rate when pacing begins). */
  #taken = 0;
  /** Errors the rest of the upload is read and dropped for, instead of the connection reset. */
  drainsOn: (err: Error) => boolean = () => false;

  /** Undefined where the connection cannot be read so (the caller reads it as a stream). */
  static of(sock: Duplex, count: (n: number) => void): GatheredUpload | undefined {
    if (!(sock instanceof Socket)) return undefined;
    const upload = new GatheredUpload(sock, count);
    return upload.#start() ? upload : undefined;
  }

  private constructor(
    private readonly sock: Socket,
    private readonly count: (n: number) => void,
  ) {
    super({ highWaterMark: 2 * GATHER_BYTES });
    // As on the connection itself: its failure reaches storage through pipeline() or `errored`,
    // also when it comes before storage began reading.
    this.on('error', () => {});
  }

  recycle(chunk: Buffer): void {
    this.#ring.give(chunk);
  }

  pace(bucket: TokenBucket): void {
    this.#pacer?.stop();
    if (this.destroyed || this.#ended) {
      bucket.take(this.#taken); // nothing left to read: paid for, no timer left behind
      return;
    }
    const pacer = new ReadPacer(bucket, () => {
      // Read on now only if storage wants more; else its next read (_read) resumes the connection.
      if (!this.destroyed && this.readableLength < this.readableHighWaterMark) this.sock.resume();
    });
    this.#pacer = pacer;
    // The connection is read from the start, before storage asks: what came so far goes on now, and
    // is paid for like the rest (else each upload's first read-ahead would pass unpaced).
    this.#pushChunk();
    if (!pacer.took(this.#taken)) this.sock.pause();
  }

  /** Paused by the pacing, waiting for the user's rate (not idle). */
  get pacing(): boolean {
    return this.#pacer?.waiting === true;
  }

  #start(): boolean {
    if (!readIntoReusedBuffer(this.sock, (n, buf) => this.#take(buf, n))) return false;
    // Bytes read before the switch wait in the connection's Readable: they come first.
    for (let c = this.sock.read() as Buffer | null; c !== null; c = this.sock.read() as Buffer | null)
      this.#take(c, c.length);
    this.sock.on('end', this.#onEnd);
    this.sock.on('error', this.#onError);
    this.sock.on('close', this.#onClose);
    // An empty upload may have ended before the switch: its 'end' is past.
    if (this.sock.readableEnded) this.#onEnd();
    return true;
  }

  /**
   * Once destroyed with an error `drainsOn` takes (a full disk: 552), the rest of the upload is
   * being read and dropped: this resolves when the connection has ended or closed, and the client,
   * having sent it all, reads the reply (a reset one makes lftp retry the upload over and over).
   * Undefined otherwise.
   */
  get drained(): Promise<void> | undefined {
    return this.#drained;
  }

  /** Copies `n` bytes of `buf` (reused by the caller); false pauses the connection. */
  #take(buf: Buffer, n: number): boolean {
    if (this.#dropping) return true;
    if (this.destroyed) return false;
    this.count(n);
    this.#taken += n;
    if (this.#pacer) return this.#takePaced(buf, n, this.#pacer);
    let more = true;
    for (let at = 0; at < n;) {
      this.#chunk ??= this.#ring.take();
      const copied = buf.copy(this.#chunk, this.#fill, at, n);
      at += copied;
      this.#fill += copied;
      if (this.#fill === this.#chunk.length) more = this.#pushChunk() && more;
    }
    return more;
  }

  /** A paced read goes on at once (a copy: `buf` is reused); the next waits for the rate. */
  #takePaced(buf: Buffer, n: number, pacer: ReadPacer): boolean {
    const more = this.push(Buffer.from(buf.subarray(0, n)));
    return pacer.took(n) && more;
  }

  #pushChunk(): boolean {
    const chunk = this.#chunk;
    const fill = this.#fill;
    this.#chunk = undefined;
    this.#fill = 0;
    if (!chunk || fill === 0) return true;
    return this.push(fill === chunk.length ? chunk : chunk.subarray(0, fill));
  }

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#pacer?.stop();
    this.#pushChunk();
    this.push(null);
  };
  readonly #onError = (err: Error): void => void this.destroy(err);
  readonly #onClose = (): void => {
    if (!this.#ended) this.destroy();
  };

  #drain(): void {
    const sock = this.sock;
    this.#drained = new Promise((resolve) => {
      const done = (): void => {
        sock.off('end', done).off('close', done).off('error', done);
        resolve();
      };
      sock.on('end', done).on('close', done).on('error', done);
    });
    sock.resume();
  }

  override _read(): void {
    if (this.#pacer?.waiting) return; // its timer resumes the connection
    this.sock.resume(); // reads on after #take returned false (net.Socket restarts a reused-buffer read)
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sock.off('end', this.#onEnd);
    this.sock.off('error', this.#onError);
    this.sock.off('close', this.#onClose);
    this.#pacer?.stop();
    this.#ring.clear();
    if (!this.#ended && !this.sock.destroyed) {
      this.#dropping = true;
      if (err && this.drainsOn(err)) this.#drain();
    }
    cb(err);
  }
}
