// Streams one object from S3 as ranged GETs of one part each, `ahead` ranges fetched while the
// current one is sent: a single GET streams at the pace of one gateway request, and a gateway (Ceph's
// radosgw here) serves several at once. Bytes go out in order; an ahead range is held in memory
// (its chunks as they came, no copy) until its turn, so a download holds at most `ahead` parts.
// Every range after the first is asked for with If-Match on the first's ETag: an object replaced
// during the download fails it instead of sending a mix of both.
import { Readable } from 'node:stream';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { Coalesced } from './coalesced.js';
import { CHUNK } from './recycling.js';
import type { S3Sdk } from './s3-connection.js';
import type { FileSource } from './types.js';
import { mapS3Error } from './s3-errors.js';

/** Chunks a download holds ready before its response is paused (coalesced.ts): up to 4 MiB. */
const HELD_CHUNKS = 4;

export interface DownloadSource {
  sdk: S3Sdk;
  client: S3Client;
  bucket: string;
  key: string;
  /** Virtual path, for error messages. */
  path: string;
  /** Bytes per ranged GET. */
  partSize: number;
  /** Ranges fetched ahead of the one being sent (0: one GET for the whole object). */
  ahead: number;
}

/**
 * The object from `offset`. The first request is made here, so its errors (NoSuchKey, InvalidRange
 * for an offset past the end) reject as GetObject's would; later ones fail the stream.
 */
export async function openObject(
  s: DownloadSource,
  offset: number,
  signal: AbortSignal,
): Promise<FileSource> {
  const whole = s.ahead === 0;
  const first = await s.client.send(
    new s.sdk.GetObjectCommand({
      Bucket: s.bucket,
      Key: s.key,
      ...(whole
        ? offset > 0
          ? { Range: `bytes=${offset}-` }
          : {}
        : { Range: `bytes=${offset}-${offset + s.partSize - 1}` }),
    }),
    { abortSignal: signal },
  );
  const body = bodyOf(first);
  // The object's size (a RETR then needs no HEAD): from Content-Range, or the length of a whole GET.
  const total = first.ContentRange ? totalOf(first.ContentRange) : first.ContentLength;
  // Sent in chunks of up to CHUNK bytes, none bigger than what is left to send (a small object takes
  // a small buffer), not as the response's 64 KiB socket reads (coalesced.ts).
  const chunk = total === undefined ? CHUNK : Math.max(1, Math.min(CHUNK, total - offset));
  const sized = (r: Readable): FileSource => {
    const c = new Coalesced(r, chunk, HELD_CHUNKS);
    return total === undefined ? c : Object.assign(c, { fileSize: total });
  };
  // One request holds it all (or the gateway answered the whole object): nothing more to fetch.
  if (whole || !first.ContentRange || total === undefined || offset + s.partSize >= total) return sized(body);
  return sized(new RangedDownload(s, body, offset + s.partSize, total, first.ETag, signal));
}

function bodyOf(r: GetObjectCommandOutput): Readable {
  if (!(r.Body instanceof Readable)) throw new Error('S3 answered GetObject without a body stream.');
  return r.Body;
}

/** `bytes a-b/total` → total (undefined when absent or `*`). */
function totalOf(range: string | undefined): number | undefined {
  const m = /\/(\d+)$/.exec(range ?? '');
  return m ? Number(m[1]) : undefined;
}

/** One ranged GET: its body's chunks wait in `held` until it is the range being sent. */
interface Range {
  readonly from: number;
  readonly to: number; // exclusive
  body?: Readable;
  held: Buffer[];
  received: number;
  ended: boolean;
}

class RangedDownload extends Readable {
  readonly #s: DownloadSource;
  readonly #etag: string | undefined;
  readonly #total: number;
  /** Aborts the range requests in flight when the download ends early. */
  readonly #requests = new AbortController();
  readonly #unlink: () => void;
  /** In order; the first is the one being sent. */
  readonly #ranges: Range[] = [];
  #next: number;
  #wanted = false;
  #ended = false;

  constructor(
    s: DownloadSource,
    firstBody: Readable,
    next: number,
    total: number,
    etag: string | undefined,
    signal: AbortSignal,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.#s = s;
    this.#etag = etag;
    this.#total = total;
    this.#next = next;
    const onAbort = (): void => this.#requests.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.#unlink = () => signal.removeEventListener('abort', onAbort);
    const head: Range = { from: next - s.partSize, to: next, held: [], received: 0, ended: false };
    this.#ranges.push(head);
    this.#attach(head, firstBody);
    this.#fill();
  }

  override _read(): void {
    this.#wanted = true;
    this.#pump();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#unlink();
    this.#requests.abort(err ?? new Error('Download closed.'));
    for (const r of this.#ranges.splice(0)) {
      r.body?.destroy();
      r.held = [];
    }
    cb(err);
  }

  /** Keeps `ahead` ranges requested beyond the one being sent. */
  #fill(): void {
    while (this.#ranges.length <= this.#s.ahead && this.#next < this.#total) {
      const from = this.#next;
      const to = Math.min(this.#total, from + this.#s.partSize);
      this.#next = to;
      const range: Range = { from, to, held: [], received: 0, ended: false };
      this.#ranges.push(range);
      this.#request(range).catch((err: unknown) => this.destroy(this.#failure(err)));
    }
  }

  async #request(range: Range): Promise<void> {
    const { sdk, client } = this.#s;
    const r = await client.send(
      new sdk.GetObjectCommand({
        Bucket: this.#s.bucket,
        Key: this.#s.key,
        Range: `bytes=${range.from}-${range.to - 1}`,
        ...(this.#etag ? { IfMatch: this.#etag } : {}),
      }),
      { abortSignal: this.#requests.signal },
    );
    const body = bodyOf(r);
    if (this.destroyed) return void body.destroy();
    this.#attach(range, body);
  }

  #attach(range: Range, body: Readable): void {
    range.body = body;
    body.on('data', (chunk: Buffer) => {
      range.received += chunk.length;
      range.held.push(chunk);
      if (range === this.#ranges[0]) this.#pump();
    });
    body.once('end', () => {
      range.ended = true;
      if (range.received !== range.to - range.from)
        return this.destroy(
          new Error(`S3 sent ${range.received} bytes of a ${range.to - range.from}-byte range.`),
        );
      if (range === this.#ranges[0]) this.#pump();
    });
    body.once('error', (err) => this.destroy(err));
    // The range being sent flows only as fast as it is read; the others are at most one part.
    if (range !== this.#ranges[0]) body.resume();
  }

  /** Sends what the current range holds while the reader wants more; moves on when it is done. */
  #pump(): void {
    while (!this.#ended && !this.destroyed) {
      const head = this.#ranges[0];
      if (!head) return this.#end();
      while (this.#wanted && head.held.length > 0) this.#wanted = this.push(head.held.shift());
      if (head.held.length > 0 || !head.ended) {
        // Pull the current range only while the reader keeps up (backpressure to the gateway).
        if (head.body) {
          if (this.#wanted) head.body.resume();
          else head.body.pause();
        }
        return;
      }
      this.#ranges.shift();
      this.#fill();
    }
  }

  #end(): void {
    this.#ended = true;
    this.#unlink();
    this.push(null);
  }

  #failure(err: unknown): Error {
    if (this.#requests.signal.aborted) return err instanceof Error ? err : new Error(String(err));
    return mapS3Error(err, 'read', this.#s.path);
  }
}
