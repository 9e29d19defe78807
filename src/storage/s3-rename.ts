import { Readable } from 'node:stream';
import { StorageError } from '../errors.js';
import { mapS3Error } from './s3-errors.js';
import { checkKeyLength } from './s3-key-length.js';
import { LIST_PAGE } from './s3-listing.js';
import { copySource } from './s3-multipart.js';
import { dirKeyOf, listPage, putMarker, send, type S3Place } from './s3-objects.js';
import { uploadObject } from './s3-upload.js';
import type { StorageContext, VPath } from './types.js';

/** What an XML 1.0 document cannot hold as is (CR is read back as LF). */
const NOT_IN_XML =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000D\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** CopyObject requests a directory rename keeps in flight (one at a time, radosgw did ~15 a second). */
export const RENAME_COPIES = 8;
/** How long undoing a cut rename's copies may take (its own signal: the rename's has aborted). */
const UNDO_MS = 30_000;

/**
 * Copies every object under `from/` to `to/`, then deletes the originals; bounded in count (the
 * directory's own marker not counted) and key length. A copy that fails or is aborted (the server
 * stopping) removes the copies made, so the original stays whole and nothing half copied is left
 * under the new name; once every copy is made the originals are deleted whatever happens (the new
 * name is whole). `keep`: the destination's marker was there before (an empty directory replaced).
 */
export async function renameDir(
  at: S3Place,
  from: VPath,
  to: VPath,
  c: StorageContext,
  keep = false,
): Promise<void> {
  const fromKey = dirKeyOf(at, from);
  const toKey = dirKeyOf(at, to);
  checkKeyLength(toKey);
  const max = at.conn.settings.maxRenameObjects;
  const objects: { key: string; size: number }[] = [];
  let marker = 0;
  let token: string | undefined;
  do {
    const page = await listPage(at, fromKey, token, LIST_PAGE, c, 'rename', from, false);
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      objects.push({ key: o.Key, size: o.Size ?? 0 });
      if (o.Key === fromKey) marker = 1;
      // Refused before any copy: none is left half moved.
      checkKeyLength(toKey + o.Key.slice(fromKey.length));
      if (objects.length - marker > max) {
        throw new StorageError(
          'limit',
          `Directory too large to rename here (more than ${max} objects); move its files instead.`,
        );
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const target = (key: string): string => toKey + key.slice(fromKey.length);
  await copyAll(at, objects, target, c, from, to, keep);
  // Nothing was below (gone since it was found): the directory is kept under its new name.
  if (objects.length === 0) await putMarker(at, to, c, 'rename');
  // The new name is whole: the originals go even if the rename is being aborted now.
  const keys = objects.map((o) => o.key);
  await deleteKeys(at, keys, { ...c, signal: AbortSignal.timeout(UNDO_MS) }, 'rename', from);
}

/** RENAME_COPIES copies at a time; on a failure, those made (or begun) are deleted again. */
async function copyAll(
  at: S3Place,
  objects: readonly { key: string; size: number }[],
  target: (key: string) => string,
  c: StorageContext,
  from: VPath,
  to: VPath,
  keep: boolean,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < objects.length) {
      const o = objects[next++];
      if (o === undefined) break;
      try {
        await copyObject(at, o.key, target(o.key), o.size, c, from);
        c.progress?.();
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(RENAME_COPIES, objects.length) }, worker));
  if (failed === undefined) return;
  // An aborted CopyObject may still have been made by the gateway: every one begun is undone.
  const begun = objects
    .slice(0, next)
    .map((o) => target(o.key))
    .filter((k) => !(keep && k === dirKeyOf(at, to)));
  try {
    await deleteKeys(at, begun, { ...c, signal: AbortSignal.timeout(UNDO_MS) }, 'rename', to);
  } catch (err) {
    throw new StorageError(
      'unavailable',
      `rename ${from}: cut after copying, and the copies under ${to} could not be removed (${String(err)})`,
      { cause: failed.err },
    );
  }
  throw failed.err;
}

/** CopyObject, or a multipart copy above 5 GiB (CopyObject's limit). */
export async function copyObject(
  at: S3Place,
  fromKey: string,
  toKey: string,
  size: number,
  c: StorageContext,
  p: VPath,
): Promise<void> {
  const { sdk, client } = await at.conn.get();
  if (size >= 5 * 1024 ** 3) {
    const target = {
      sdk,
      client,
      bucket: at.bucket,
      key: toKey,
      path: p,
      partSize: at.conn.settings.partSize,
      signPayload: at.conn.settings.signPayload,
      signal: c.signal,
    };
    await uploadObject(target, Readable.from([]), { key: fromKey, etag: undefined, length: size });
    return;
  }
  await send(
    () =>
      client.send(
        new sdk.CopyObjectCommand({
          Bucket: at.bucket,
          Key: toKey,
          CopySource: copySource(at.bucket, fromKey),
        }),
        { abortSignal: c.signal },
      ),
    c,
    'rename',
    p,
  );
}

export async function deleteKeys(
  at: S3Place,
  all: string[],
  c: StorageContext,
  op: string,
  p: VPath,
): Promise<void> {
  const { sdk, client } = await at.conn.get();
  // DeleteObjects names its keys in an XML body, which cannot carry most control characters (and
  // turns CR into LF): such keys (put by another S3 client) go one by one, in the URL.
  const keys = all.filter((k) => !NOT_IN_XML.test(k));
  const one = (key: string): Promise<unknown> =>
    send(
      () =>
        client.send(new sdk.DeleteObjectCommand({ Bucket: at.bucket, Key: key }), {
          abortSignal: c.signal,
        }),
      c,
      op,
      p,
    );
  for (const key of all) if (NOT_IN_XML.test(key)) await one(key);
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    if (batch.length === 1) {
      await one(batch[0] ?? '');
      continue;
    }
    const r = await send(
      () =>
        client.send(
          new sdk.DeleteObjectsCommand({
            Bucket: at.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
          { abortSignal: c.signal },
        ),
      c,
      op,
      p,
    );
    const failed = r.Errors?.[0];
    if (failed) throw mapS3Error(Object.assign(new Error(failed.Message), { name: failed.Code }), op, p);
  }
}
