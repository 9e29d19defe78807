// Streams one object to S3 with bounded memory: bytes fill a part buffer while the previous part
// is stored, so at most two parts are in memory; the loop stops pulling while both are busy. Parts
// after the first go to S3 as they fill (two requests in flight, the gateway never idle waiting for
// a full part), each kept in its buffer to be sent again if it ends short or is refused. An object
// smaller than one part is one PutObject. The object appears only at CompleteMultipartUpload; any
// failure (source cut, ABOR, S3 error) aborts the multipart upload, so the previous object stays.
import { Readable } from 'node:stream';
import type { CompletedPart, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { FerryError } from '../errors.js';
import { abortedError, storageError } from './fs-errors.js';
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, type S3Sdk } from './s3-connection.js';
import { mapS3Error } from './s3-errors.js';

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
}

/** The parts of a command a middleware is added to (any S3 command). */
interface WithStack {
  middlewareStack: { add(m: unknown, o: { step: 'build'; name: string }): void };
}

/**
 * Marks a command's body UNSIGNED-PAYLOAD: the signer then skips hashing it (about 0.7 CPU s per
 * GiB here), as it does for every streamed body. Integrity is TCP's, and TLS's on https.
 */
export function unsignedPayload<C>(cmd: C, sign: boolean): C {
  if (sign) return cmd;
  type Args = { request: { headers?: Record<string, string> } };
  (cmd as unknown as WithStack).middlewareStack.add(
    (next: (a: Args) => Promise<unknown>) => (args: Args) => {
      if (args.request.headers) args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'ferryUnsignedPayload' },
  );
  return cmd;
}

/** Bytes of an existing object that become the start of the new one, copied inside S3. */
export interface CopyPrefix {
  key: string;
  etag: string | undefined;
  length: number;
}

/** `bucket/key` as UploadPartCopy and CopyObject want it (each segment URL-encoded). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
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
  const { sdk, client, bucket, key } = t;
  const send = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    if (t.signal.aborted) throw abortedError(t.signal);
    try {
      return await run();
    } catch (err) {
      if (t.signal.aborted) throw abortedError(t.signal);
      throw mapS3Error(err, what, t.path, true);
    }
  };
  const opts = { abortSignal: t.signal };
  const parts: CompletedPart[] = [];
  let uploadId: string | undefined;
  let starting: Promise<string> | undefined;
  // Memoized: a streamed part may ask for the upload while the first part's request creates it.
  const start = (): Promise<string> =>
    (starting ??= send('upload', () =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), opts),
    ).then((r) => {
      if (!r.UploadId) throw storageError('unavailable', 'upload', t.path);
      return (uploadId = r.UploadId);
    }));
  /** Reserves the next part number, synchronously: numbers follow the bytes' order. */
  const nextPart = (): number => {
    if (parts.length >= MAX_PARTS) throw storageError('quota-exceeded', 'upload', t.path);
    return parts.push({}); // the ETag is filled in when the part is stored
  };
  const partCommand = (n: number, id: string, body: Buffer | Readable, length: number): UploadPartCommand =>
    unsignedPayload(
      new sdk.UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: id,
        PartNumber: n,
        Body: body,
        ContentLength: length,
      }),
      t.signPayload,
    );
  const uploadPart = async (n: number, data: Buffer): Promise<void> => {
    const id = await start();
    const r = await send('upload', () => client.send(partCommand(n, id, data, data.length), opts));
    parts[n - 1] = { PartNumber: n, ETag: r.ETag };
  };
  /** Sends part `n` as its bytes arrive; false if it must be sent again from its buffer. */
  const streamPart = (n: number): PartStream =>
    new PartStream(async (s) => {
      try {
        const id = await start();
        const r = await client.send(partCommand(n, id, s.body, t.partSize), {
          abortSignal: AbortSignal.any([t.signal, s.cut.signal]),
        });
        parts[n - 1] = { PartNumber: n, ETag: r.ETag };
        return true;
      } catch {
        if (t.signal.aborted) throw abortedError(t.signal);
        return false; // cut short (the last part), or refused: its buffer has every byte
      } finally {
        s.abandon();
      }
    });

  // A failure of a part's request is kept and rethrown when its buffer is next needed.
  let failure: unknown;
  const slots: Slot[] = [{ buf: Buffer.allocUnsafe(t.partSize), busy: undefined }];
  const settle = async (slot: Slot): Promise<void> => {
    await slot.busy;
    slot.busy = undefined;
    if (failure !== undefined) throw failure;
  };
  /** Part `f` holds `length` bytes, all of them: store it (the buffer is busy until then). */
  const complete = (f: Filling, length: number): void => {
    const data = f.slot.buf.subarray(0, length);
    const s = f.stream;
    if (s && length === t.partSize) s.end();
    else s?.abandon();
    const stored = s ? s.sent.then((ok) => (ok ? undefined : uploadPart(f.n, data))) : uploadPart(f.n, data);
    f.slot.busy = stored.catch((err: unknown) => {
      failure ??= err;
    });
  };

  let bytes = 0;
  try {
    if (copy && copy.length > 0) {
      if (copy.length < MIN_PART_SIZE) throw new RangeError('copy prefix below the minimum part size');
      const id = await start();
      const pieces = Math.ceil(copy.length / MAX_PART_SIZE);
      const each = Math.ceil(copy.length / pieces);
      for (let from = 0; from < copy.length; from += each) {
        const to = Math.min(copy.length, from + each) - 1;
        const n = nextPart();
        const r = await send('upload', () =>
          client.send(
            new sdk.UploadPartCopyCommand({
              Bucket: bucket,
              Key: key,
              UploadId: id,
              PartNumber: n,
              CopySource: copySource(bucket, copy.key),
              CopySourceRange: `bytes=${from}-${to}`,
              ...(copy.etag ? { CopySourceIfMatch: copy.etag } : {}),
            }),
            opts,
          ),
        );
        parts[n - 1] = { PartNumber: n, ETag: r.CopyPartResult?.ETag };
      }
    }

    // Two buffers, reused in turn: one fills while the other's part is stored. After one full part
    // of the body (a smaller object is one PutObject), each part is streamed to S3 as it fills,
    // its bytes kept in its buffer: a last part that ends short, or a refused request, is sent again
    // from there with its true length.
    let fullParts = 0;
    let slot = slots[0] as Slot;
    let f: Filling | undefined;
    for await (const chunk of body) {
      bytes += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        if (!f) {
          const n = nextPart();
          f = {
            n,
            slot,
            filled: 0,
            pushed: 0,
            stream: fullParts > 0 && !t.signPayload ? streamPart(n) : undefined,
          };
        }
        const n = chunk.copy(f.slot.buf, f.filled, at);
        f.filled += n;
        at += n;
        // Handed over in slices of PUSH bytes: a write to the gateway's socket per TLS record
        // (16 KiB) would cost a system call and a stream turn each.
        if (f.stream && (f.filled - f.pushed >= PUSH || f.filled === t.partSize)) {
          f.stream.push(f.slot.buf.subarray(f.pushed, f.filled));
          f.pushed = f.filled;
        }
        if (f.filled === t.partSize) {
          complete(f, t.partSize);
          fullParts++;
          if (slots.length === 1) slots.push({ buf: Buffer.allocUnsafe(t.partSize), busy: undefined });
          slot = (slots[0] === slot ? slots[1] : slots[0]) as Slot;
          f = undefined;
          await settle(slot); // the part before is stored: its buffer is free again
        }
      }
      if (t.signal.aborted) throw abortedError(t.signal);
    }
    if (starting === undefined) {
      // Smaller than one part (no part was stored, nothing copied): a single PutObject, atomic like
      // the completion. The part number the bytes reserved is not used.
      parts.length = 0;
      const data = f ? f.slot.buf.subarray(0, f.filled) : Buffer.alloc(0);
      await send('upload', () =>
        client.send(
          unsignedPayload(
            new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ContentLength: data.length }),
            t.signPayload,
          ),
          opts,
        ),
      );
      return bytes;
    }
    if (f) complete(f, f.filled);
    for (const slot of slots) await settle(slot);
    const id = await start();
    // Ceph 16 answers CompleteMultipartUpload with an empty ETag (bug 58879): it is not used.
    await send('upload', () =>
      client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: id,
          MultipartUpload: { Parts: parts },
        }),
        opts,
      ),
    );
    uploadId = undefined;
    return bytes;
  } catch (err) {
    for (const slot of slots) await slot.busy; // never rejects (its failure is kept)
    await starting?.catch(() => undefined);
    if (uploadId !== undefined) {
      const id = uploadId;
      // Not under the session's signal: it may have fired, and the parts must still be freed.
      await client
        .send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }))
        .catch(() => undefined);
    }
    if (t.signal.aborted && !(err instanceof FerryError && err.code !== 'ERR_ABORTED'))
      throw abortedError(t.signal);
    throw err;
  }
}

/** Bytes of a streamed part handed to its request at a time. */
const PUSH = 1024 * 1024;

/** A part buffer, and the storing of the part in it (settles once the buffer may be refilled). */
interface Slot {
  readonly buf: Buffer;
  busy: Promise<void> | undefined;
}

/** The part being filled; `stream` while its request reads it as it fills. */
interface Filling {
  readonly n: number;
  readonly slot: Slot;
  filled: number;
  /** Bytes handed to `stream` so far. */
  pushed: number;
  stream: PartStream | undefined;
}

/** The body of a streamed UploadPart: slices of the part's buffer, pushed as they are filled. */
class PartStream {
  readonly body = new Readable({ read() {} });
  readonly cut = new AbortController();
  /** True once the part is stored; false if it must be sent again from its buffer. */
  readonly sent: Promise<boolean>;
  #over = false;

  constructor(send: (s: PartStream) => Promise<boolean>) {
    this.sent = send(this);
  }

  push(slice: Buffer): void {
    if (!this.#over) this.body.push(slice);
  }

  end(): void {
    if (!this.#over) this.body.push(null);
  }

  /** Stops the request (a last part shorter than declared) and lets go of the slices. */
  abandon(): void {
    if (this.#over) return;
    this.#over = true;
    this.cut.abort();
    this.body.destroy();
  }
}
