import type { _Object } from '@aws-sdk/client-s3';
import type { StorageError } from '../errors.js';
import { abortedError, storageError, throwIfAborted } from './fs-errors.js';
import type { S3Connection } from './s3-connection.js';
import { isNotFound, mapS3Error } from './s3-errors.js';
import type { FileStat, StorageContext, VPath } from './types.js';
import { ROOT, assertVPath, baseName, segmentsOf } from './virtual-path.js';

/** Where a storage's objects are: its connection, bucket and the key prefix that is its `/`. */
export interface S3Place {
  readonly conn: S3Connection;
  readonly bucket: string;
  /** Normalized ('' or ending in '/'). */
  readonly prefix: string;
}

/** Directories have no time of their own on S3 (a prefix); their marker's, else the epoch. */
export const NO_TIME = new Date(0);

export type FileFound = { type: 'file'; size: number; modified: Date; etag?: string };
/** `file`: the key of the same name, when the name is both (the directory wins; see find). */
export type Found = FileFound | { type: 'dir'; modified: Date; file?: FileFound };

export function keyOf(at: S3Place, p: VPath): string {
  return at.prefix + p.slice(1);
}

export function dirKeyOf(at: S3Place, p: VPath): string {
  return p === ROOT ? at.prefix : `${at.prefix}${p.slice(1)}/`;
}

export async function send<T>(run: () => Promise<T>, c: StorageContext, op: string, p: string): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (c.signal.aborted) throw abortedError(c.signal);
    throw mapS3Error(err, op, p);
  }
}

/** One ListObjectsV2 page under `prefix`, by directory (`/` delimiter) or flat. */
export async function listPage(
  at: S3Place,
  prefix: string,
  token: string | undefined,
  max: number,
  c: StorageContext,
  op: string,
  p: VPath,
  byDirectory: boolean,
) {
  const { sdk, client } = await at.conn.get();
  return send(
    () =>
      client.send(
        new sdk.ListObjectsV2Command({
          Bucket: at.bucket,
          Prefix: prefix,
          MaxKeys: max,
          ...(byDirectory ? { Delimiter: '/' } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
        { abortSignal: c.signal },
      ),
    c,
    op,
    p,
  );
}

/**
 * A file (HEAD of the key) or a directory (a key below it), or undefined; both asked at once. A
 * name that is both is the directory, with the file in `file` (RETR, SIZE and DELE reach it).
 */
export async function find(at: S3Place, p: VPath, c: StorageContext, op: string): Promise<Found | undefined> {
  if (p === ROOT) return { type: 'dir', modified: NO_TIME };
  const { sdk, client } = await at.conn.get();
  const below = listPage(at, dirKeyOf(at, p), undefined, 1, c, op, p, false);
  below.catch(() => undefined); // observed below
  let file: FileFound | undefined;
  try {
    const h = await client.send(new sdk.HeadObjectCommand({ Bucket: at.bucket, Key: keyOf(at, p) }), {
      abortSignal: c.signal,
    });
    file = {
      type: 'file',
      size: h.ContentLength ?? 0,
      modified: h.LastModified ?? NO_TIME,
      ...(h.ETag ? { etag: h.ETag } : {}),
    };
  } catch (err) {
    if (c.signal.aborted) throw abortedError(c.signal);
    if (!isNotFound(err)) throw mapS3Error(err, op, p);
  }
  const first: _Object | undefined = (await below).Contents?.[0];
  if (!first) return file;
  return {
    type: 'dir',
    modified: first.Key === dirKeyOf(at, p) ? (first.LastModified ?? NO_TIME) : NO_TIME,
    ...(file ? { file } : {}),
  };
}

/** The error for a path that is not there: not-directory when a parent is a file. */
export async function missing(at: S3Place, p: VPath, c: StorageContext, op: string): Promise<StorageError> {
  const segs = segmentsOf(p);
  for (let i = 1; i < segs.length; i++) {
    const ancestor = ('/' + segs.slice(0, i).join('/')) as VPath;
    const found = await find(at, ancestor, c, op);
    if (!found) return storageError('not-found', op, p);
    if (found.type === 'file') return storageError('not-directory', op, p);
  }
  return storageError('not-found', op, p);
}

export async function putMarker(at: S3Place, dir: VPath, c: StorageContext, op: string): Promise<void> {
  const { sdk, client } = await at.conn.get();
  await send(
    () =>
      client.send(
        new sdk.PutObjectCommand({ Bucket: at.bucket, Key: dirKeyOf(at, dir), Body: '', ContentLength: 0 }),
        { abortSignal: c.signal },
      ),
    c,
    op,
    dir,
  );
}

export function begin(p: string, c: StorageContext): asserts p is VPath {
  assertVPath(p);
  throwIfAborted(c.signal);
}

export function dirStat(p: VPath, modified: Date): FileStat {
  return { name: baseName(p) || '/', path: p, type: 'dir', size: 0, modified, mode: 0o755 };
}

export function fileStat(p: VPath, size: number, modified: Date): FileStat {
  return { name: baseName(p), path: p, type: 'file', size, modified, mode: 0o644 };
}
