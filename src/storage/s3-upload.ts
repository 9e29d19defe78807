// Streams one object to S3 with bounded memory: bytes fill a part buffer while the previous part
// uploads, so at most two parts are in memory; the loop stops pulling while both are busy. An object
// smaller than one part is one PutObject. The object appears only at CompleteMultipartUpload; any
// failure (source cut, ABOR, S3 error) aborts the multipart upload, so the previous object stays.
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
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
  const start = async (): Promise<string> => {
    if (uploadId !== undefined) return uploadId;
    const r = await send('upload', () =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), opts),
    );
    if (!r.UploadId) throw storageError('unavailable', 'upload', t.path);
    return (uploadId = r.UploadId);
  };
  const nextPart = (): number => {
    if (parts.length >= MAX_PARTS) throw storageError('quota-exceeded', 'upload', t.path);
    return parts.push({}); // reserve the number now; the ETag is filled in when the part is stored
  };

  // One part uploading at a time; its failure is kept and rethrown at the next await.
  let inflight: Promise<void> | undefined;
  let failure: unknown;
  const uploadPart = async (data: Buffer): Promise<void> => {
    const id = await start();
    const n = nextPart();
    const r = await send('upload', () =>
      client.send(
        unsignedPayload(
          new sdk.UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: id,
            PartNumber: n,
            Body: data,
            ContentLength: data.length,
          }),
          t.signPayload,
        ),
        opts,
      ),
    );
    parts[n - 1] = { PartNumber: n, ETag: r.ETag };
  };
  const settle = async (): Promise<void> => {
    await inflight;
    inflight = undefined;
    if (failure !== undefined) throw failure;
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

    // Two buffers, reused in turn: one fills while the other uploads (no garbage per part).
    const buffers = [Buffer.allocUnsafe(t.partSize)];
    let buf = buffers[0] as Buffer;
    let filled = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        const n = chunk.copy(buf, filled, at);
        filled += n;
        at += n;
        if (filled === buf.length) {
          await settle(); // the previous part is stored: its buffer is free again
          const full = buf;
          inflight = uploadPart(full).catch((err: unknown) => {
            failure = err;
          });
          if (buffers.length === 1) buffers.push(Buffer.allocUnsafe(t.partSize));
          buf = (buffers[0] === full ? buffers[1] : buffers[0]) as Buffer;
          filled = 0;
        }
      }
      if (t.signal.aborted) throw abortedError(t.signal);
    }
    await settle();
    if (uploadId === undefined) {
      // Smaller than one part: a single PutObject, atomic like the completion.
      const data = buf.subarray(0, filled);
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
    if (filled > 0 || parts.length === 0) await uploadPart(buf.subarray(0, filled));
    const id = uploadId;
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
    await inflight; // never rejects (its failure is kept)
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
