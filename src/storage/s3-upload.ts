// Streams one object to S3 with bounded memory: bytes fill a part buffer while the previous part
// is stored, so at most two parts are in memory; the loop stops pulling while both are busy. Parts
// after the first go to S3 as they fill (two requests in flight, the gateway never idle waiting for
// a full part), each kept in its buffer to be sent again if it ends short or is refused. An object
// smaller than one part is one PutObject. The object appears only at CompleteMultipartUpload; any
// failure (source cut, ABOR, S3 error) aborts the multipart upload, so the previous object stays.
import type { S3Client } from '@aws-sdk/client-s3';
import { FerryError } from '../errors.js';
import { abortedError } from './fs-errors.js';
import type { S3Sdk } from './s3-connection.js';
import { MultipartUpload, request, unsignedPayload, type PartStream } from './s3-multipart.js';

export interface UploadTarget {
  sdk: S3Sdk;
  client: S3Client;
  bucket: string;
  key: string;
  /** Virtual path, for error messages. */
  path: string;
  partSize: number;
  /** SHA-256 of each part in its signature (else UNSIGNED-PAYLOAD, as the SDK sends streams). */
  signPayload: boolean;
  signal: AbortSignal;
  /**
   * Before the object is made (PutObject, CompleteMultipartUpload): throws if the object the upload
   * started from changed meanwhile (APPE, REST n + STOR), so that nothing is replaced.
   */
  unchanged?: () => Promise<void>;
  /**
   * The object must not exist when it is made (a drop box upload begun onto none): the request that
   * makes it asks `If-None-Match: *`, whose refusal (412) is the caller's to name.
   */
  createOnly?: boolean;
}

/** Bytes of an existing object that become the start of the new one, copied inside S3. */
export interface CopyPrefix {
  key: string;
  etag: string | undefined;
  length: number;
}

/**
 * Uploads `copy` (server-side; at least MIN_PART_SIZE bytes) followed by the bytes of `body`.
 * Returns the number of bytes taken from `body`.
 */
export async function uploadObject(
  t: UploadTarget,
  body: AsyncIterable<Buffer>,
  copy?: CopyPrefix,
): Promise<number> {
  const upload = new MultipartUpload(t);
  const parts = new PartBuffers(t.partSize);
  let bytes = 0;
  // The part being filled. While it streams, its request waits for bytes that a failure of the body
  // (cut, ABOR, quota) never brings: the catch below must stop it and observe its outcome.
  let f: Filling | undefined;
  try {
    if (copy && copy.length > 0) await upload.copy(copy);
    // After one full part of the body (a smaller object is one PutObject), each part is streamed to
    // S3 as it fills, its bytes kept in its buffer: a last part that ends short, or a refused
    // request, is sent again from there with its true length.
    let fullParts = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        if (!f) {
          const n = upload.nextPart();
          const stream = fullParts > 0 && !t.signPayload ? upload.streamPart(n) : undefined;
          f = { n, buf: parts.current.buf, filled: 0, pushed: 0, stream };
        }
        const n = chunk.copy(f.buf, f.filled, at);
        f.filled += n;
        at += n;
        // Handed over in slices of PUSH bytes: a write to the gateway's socket per TLS record
        // (16 KiB) would cost a system call and a stream turn each.
        if (f.stream && (f.filled - f.pushed >= PUSH || f.filled === t.partSize)) {
          f.stream.push(f.buf.subarray(f.pushed, f.filled));
          f.pushed = f.filled;
        }
        if (f.filled === t.partSize) {
          parts.store(store(upload, f, t.partSize));
          fullParts++;
          f = undefined;
          await parts.next(); // the part before is stored: its buffer is free again
        }
      }
      if (t.signal.aborted) throw abortedError(t.signal);
    }
    if (!upload.started) {
      // Smaller than one part, nothing copied: a single PutObject, atomic like the completion.
      const data = f ? f.buf.subarray(0, f.filled) : Buffer.alloc(0);
      const { sdk, client, bucket, key } = t;
      await t.unchanged?.();
      const put = new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: data,
        ContentLength: data.length,
        ...(t.createOnly && { IfNoneMatch: '*' }),
      });
      await request(t, () => client.send(unsignedPayload(put, t.signPayload), { abortSignal: t.signal }));
      return bytes;
    }
    if (f) parts.store(store(upload, f, f.filled));
    f = undefined; // handed to store(), which observes its request
    await parts.settled();
    await t.unchanged?.();
    await upload.complete();
    return bytes;
  } catch (err) {
    if (f?.stream) {
      f.stream.abandon(); // else its request hangs (a socket held) until the transfer's signal fires
      await f.stream.sent.catch(() => undefined);
    }
    await parts.idle();
    await upload.abort();
    if (t.signal.aborted && !(err instanceof FerryError && err.code !== 'ERR_ABORTED'))
      throw abortedError(t.signal);
    throw err;
  }
}

/** Bytes of a streamed part handed to its request at a time. */
const PUSH = 1024 * 1024;

/** The part being filled; `stream` while its request reads it as it fills. */
interface Filling {
  readonly n: number;
  readonly buf: Buffer;
  filled: number;
  /** Bytes handed to `stream` so far. */
  pushed: number;
  readonly stream: PartStream | undefined;
}

/** Part `f` holds `length` bytes, all of them: stores it, streamed or else from its buffer. */
function store(upload: MultipartUpload, f: Filling, length: number): Promise<void> {
  const data = f.buf.subarray(0, length);
  const s = f.stream;
  if (!s) return upload.uploadPart(f.n, data);
  if (length === f.buf.length) s.end();
  else s.abandon(); // declared a full part: sent again with its true length
  return s.sent.then((ok) => (ok ? undefined : upload.uploadPart(f.n, data)));
}

/**
 * The two part buffers, used in turn: one fills while the other's part is stored. The second is
 * allocated only once a first part is full. A part's failure is kept and thrown when its buffer is
 * next needed.
 */
class PartBuffers {
  readonly #slots: { readonly buf: Buffer; busy: Promise<void> | undefined }[];
  #at = 0;
  #failure: unknown;

  constructor(private readonly size: number) {
    this.#slots = [{ buf: Buffer.allocUnsafe(size), busy: undefined }];
  }

  get current(): { readonly buf: Buffer } {
    return this.#slots[this.#at] as { readonly buf: Buffer };
  }

  /** The current buffer's part is being stored by `stored`. */
  store(stored: Promise<void>): void {
    const slot = this.#slots[this.#at];
    if (slot)
      slot.busy = stored.catch((err: unknown) => {
        this.#failure ??= err;
      });
  }

  /** Moves to the other buffer, once the part in it is stored. */
  async next(): Promise<void> {
    if (this.#slots.length === 1) this.#slots.push({ buf: Buffer.allocUnsafe(this.size), busy: undefined });
    this.#at = 1 - this.#at;
    await this.#settle(this.#at);
  }

  /** Every part stored; throws the first failure. */
  async settled(): Promise<void> {
    for (let i = 0; i < this.#slots.length; i++) await this.#settle(i);
  }

  /** Waits for the requests in flight, whatever their outcome (before aborting the upload). */
  async idle(): Promise<void> {
    for (const slot of this.#slots) await slot.busy; // never rejects (its failure is kept)
  }

  async #settle(i: number): Promise<void> {
    const slot = this.#slots[i];
    if (!slot) return;
    await slot.busy;
    slot.busy = undefined;
    if (this.#failure !== undefined) throw this.#failure;
  }
}
