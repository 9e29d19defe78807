// One S3 multipart upload: created on first use, its parts numbered in the order of their bytes
// (copied inside S3, sent from a buffer, or streamed as their buffer fills), then completed or
// aborted. s3-upload.ts decides what goes into which part.
import { Readable } from 'node:stream';
import type { CompletedPart, UploadPartCommand } from '@aws-sdk/client-s3';
import { abortedError, storageError } from './fs-errors.js';
import { MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE } from './s3-connection.js';
import { mapS3Error } from './s3-errors.js';
import type { CopyPrefix, UploadTarget } from './s3-upload.js';

/** Runs one request of the upload: an abort is reported as such, an S3 error as a storage error. */
export async function request<T>(t: UploadTarget, run: () => Promise<T>): Promise<T> {
  if (t.signal.aborted) throw abortedError(t.signal);
  try {
    return await run();
  } catch (err) {
    if (t.signal.aborted) throw abortedError(t.signal);
    throw mapS3Error(err, 'upload', t.path);
  }
}

export class MultipartUpload {
  readonly #t: UploadTarget;
  readonly #parts: CompletedPart[] = [];
  /** The upload's id while it exists (created and not yet completed): what abort() removes. */
  #id: string | undefined;
  #starting: Promise<string> | undefined;

  constructor(t: UploadTarget) {
    this.#t = t;
  }

  /** Whether the upload was asked for (a part was stored, or is being stored). */
  get started(): boolean {
    return this.#starting !== undefined;
  }

  /** Creates the upload once: a streamed part may ask for it while the first part's request creates it. */
  start(): Promise<string> {
    const { sdk, client, bucket, key } = this.#t;
    // Not under the transfer's signal: an ABOR while the gateway creates the upload would leave it
    // created there with its id unknown here, so that abort() could not remove it. (A short request.)
    return (this.#starting ??= request(this.#t, () =>
      client.send(new sdk.CreateMultipartUploadCommand({ Bucket: bucket, Key: key })),
    ).then((r) => {
      if (!r.UploadId) throw storageError('unavailable', 'upload', this.#t.path);
      return (this.#id = r.UploadId);
    }));
  }

  /** Reserves the next part number, synchronously: numbers follow the bytes' order. */
  nextPart(): number {
    if (this.#parts.length >= MAX_PARTS) throw storageError('quota-exceeded', 'upload', this.#t.path);
    return this.#parts.push({}); // the ETag is filled in when the part is stored
  }

  /** The copied prefix, as parts of at most MAX_PART_SIZE (it is at least MIN_PART_SIZE long). */
  async copy(prefix: CopyPrefix): Promise<void> {
    if (prefix.length < MIN_PART_SIZE) throw new RangeError('copy prefix below the minimum part size');
    const { sdk, client, bucket, key, signal } = this.#t;
    const id = await this.start();
    const pieces = Math.ceil(prefix.length / MAX_PART_SIZE);
    const each = Math.ceil(prefix.length / pieces);
    for (let from = 0; from < prefix.length; from += each) {
      const to = Math.min(prefix.length, from + each) - 1;
      const n = this.nextPart();
      const r = await request(this.#t, () =>
        client.send(
          new sdk.UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId: id,
            PartNumber: n,
            CopySource: copySource(bucket, prefix.key),
            CopySourceRange: `bytes=${from}-${to}`,
            ...(prefix.etag ? { CopySourceIfMatch: prefix.etag } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      this.#parts[n - 1] = { PartNumber: n, ETag: r.CopyPartResult?.ETag };
    }
  }

  /** Stores part `n` from its buffer (the SDK retries it as needed). */
  async uploadPart(n: number, data: Buffer): Promise<void> {
    const id = await this.start();
    const r = await request(this.#t, () =>
      this.#t.client.send(this.#partCommand(n, id, data, data.length), { abortSignal: this.#t.signal }),
    );
    this.#parts[n - 1] = { PartNumber: n, ETag: r.ETag };
  }

  /** Sends part `n` (of partSize bytes) as its bytes are pushed; `sent` is false if it must be sent again. */
  streamPart(n: number): PartStream {
    const t = this.#t;
    return new PartStream(async (s) => {
      try {
        const id = await this.start();
        const r = await t.client.send(this.#partCommand(n, id, s.body, t.partSize), {
          abortSignal: AbortSignal.any([t.signal, s.cut.signal]),
        });
        this.#parts[n - 1] = { PartNumber: n, ETag: r.ETag };
        return true;
      } catch {
        if (t.signal.aborted) throw abortedError(t.signal);
        return false; // cut short (the last part), or refused: its buffer has every byte
      } finally {
        s.abandon();
      }
    });
  }

  /** Makes the object of the parts stored (all of them must be). */
  async complete(): Promise<void> {
    const { sdk, client, bucket, key, signal } = this.#t;
    const id = await this.start();
    // Ceph 16 answers CompleteMultipartUpload with an empty ETag (bug 58879): it is not used.
    await request(this.#t, () =>
      client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: id,
          MultipartUpload: { Parts: this.#parts },
          ...(this.#t.createOnly && { IfNoneMatch: '*' }),
        }),
        { abortSignal: signal },
      ),
    );
    this.#id = undefined;
  }

  /** Removes the upload and its parts, if it was created; never fails. */
  async abort(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    const id = this.#id;
    if (id === undefined) return;
    const { sdk, client, bucket, key } = this.#t;
    // Not under the session's signal: it may have fired, and the parts must still be freed.
    await client
      .send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }))
      .catch(() => undefined);
  }

  #partCommand(n: number, id: string, body: Buffer | Readable, length: number): UploadPartCommand {
    const { sdk, bucket, key } = this.#t;
    return unsignedPayload(
      new sdk.UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: id,
        PartNumber: n,
        Body: body,
        ContentLength: length,
      }),
      this.#t.signPayload,
    );
  }
}

/** The body of a streamed UploadPart: slices of the part's buffer, pushed as they are filled. */
export class PartStream {
  readonly body = new Readable({ read() {} });
  readonly cut = new AbortController();
  /** True once the part is stored; false if it must be sent again from its buffer. */
  readonly sent: Promise<boolean>;
  #over = false;

  constructor(send: (s: PartStream) => Promise<boolean>) {
    this.sent = send(this);
    // Whoever stores the part awaits `sent`; a part abandoned on a failure may reject it (aborted)
    // with nobody left to: never an unhandled rejection (which ends the process).
    this.sent.catch(() => undefined);
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

/** `bucket/key` as UploadPartCopy and CopyObject want it (each segment URL-encoded). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
