import { randomBytes } from 'node:crypto';
import { Readable, addAbortSignal } from 'node:stream';
import { StorageError } from '../errors.js';
import { abortedError, createdMeanwhile, storageError } from './fs-errors.js';
import { MIN_PART_SIZE, normalizePrefix, type S3Connection } from './s3-connection.js';
import { isNotFound, mapS3Error, preconditionFailed } from './s3-errors.js';
import { openObject } from './s3-download.js';
import { checkKeyLength } from './s3-key-length.js';
import { listDir } from './s3-listing.js';
import {
  NO_TIME,
  begin,
  dirKeyOf,
  dirStat,
  fileStat,
  find,
  keyOf,
  listPage,
  missing,
  putMarker,
  send,
  type FileFound,
  type S3Place,
} from './s3-objects.js';
import { copyObject, deleteKeys, renameDir } from './s3-rename.js';
import { isRecycling } from './recycling.js';
import { chunksOf } from './stream-chunks.js';
import { uploadObject, type CopyPrefix } from './s3-upload.js';
import { checkRestart, preparedBy } from './prepared-write.js';
import type { UploadLocks } from './upload-locks.js';
import type {
  FileSource,
  FileStat,
  PreparedWrite,
  StorageBackend,
  StorageContext,
  StorageFeature,
  VPath,
} from './types.js';
import { ROOT, assertVPath, isDescendant, joinVPath, parentOf } from './virtual-path.js';

export interface S3StorageOptions {
  connection: S3Connection;
  bucket: string;
  /** Key prefix that is this storage's `/` ('' for the whole bucket). */
  prefix: string;
  readOnly?: boolean;
  /**
   * Uploads that keep the object's bytes (APPE, REST n + STOR) take turns per object in this
   * process (`ferry serve` gives every storage its one registry); default: the connection's.
   */
  locks?: UploadLocks;
}

/** What S3 can really do: ranged GET (REST+RETR), and APPE/REST+STOR by copy-and-append. */
const FEATURES: ReadonlySet<StorageFeature> = new Set<StorageFeature>([
  'restart-read',
  'restart-write',
  'append',
]);

/**
 * Files in an S3 bucket under a key prefix. Directories are prefixes: `a/b` is a directory when a
 * key starts with `a/b/`; an empty one is the marker object `a/b/`. Listings stream ListObjectsV2
 * pages (s3-listing.ts); reads are (ranged) GETs; writes are streamed multipart uploads (s3-upload.ts);
 * a directory is renamed object by object (s3-rename.ts).
 */
export class S3Storage implements StorageBackend {
  readonly features = FEATURES;
  readonly #at: S3Place;
  readonly #readOnly: boolean;
  readonly #locks: UploadLocks;

  constructor(o: S3StorageOptions) {
    this.#locks = o.locks ?? o.connection.locks;
    this.#at = { conn: o.connection, bucket: o.bucket, prefix: normalizePrefix(o.prefix) };
    this.#readOnly = o.readOnly ?? false;
  }

  async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    begin(p, c);
    if (p === ROOT) return dirStat(p, NO_TIME);
    const found = await find(this.#at, p, c, 'stat');
    if (!found) throw await missing(this.#at, p, c, 'stat');
    if (found.type === 'file')
      return { ...fileStat(p, found.size, found.modified), ...(found.etag ? { id: found.etag } : {}) };
    const f = found.file;
    return f
      ? {
          ...dirStat(p, found.modified),
          hiddenFile: { size: f.size, modified: f.modified, ...(f.etag ? { id: f.etag } : {}) },
        }
      : dirStat(p, found.modified);
  }

  list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    return listDir(this.#at, dir, c);
  }

  async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    begin(p, c);
    checkOffset(o.offset);
    if (p === ROOT) throw storageError('is-directory', 'read', p);
    const { sdk, client } = await this.#at.conn.get();
    const { partSize, readAhead } = this.#at.conn.settings;
    try {
      const source = {
        sdk,
        client,
        bucket: this.#at.bucket,
        key: keyOf(this.#at, p),
        path: p,
        partSize,
        ahead: readAhead,
      };
      // A body cut by the gateway fails the stream with a plain error: 451 for this transfer.
      return addAbortSignal(c.signal, await openObject(source, o.offset, c.signal));
    } catch (err) {
      if (c.signal.aborted) throw abortedError(c.signal);
      if (err instanceof Error && err.name === 'InvalidRange') return Readable.from([]); // offset ≥ size
      if (isNotFound(err)) {
        if ((await find(this.#at, p, c, 'read'))?.type === 'dir')
          throw storageError('is-directory', 'read', p);
        throw await missing(this.#at, p, c, 'read');
      }
      throw mapS3Error(err, 'read', p);
    }
  }

  async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    return (await this.prepareWrite(p, o, c)).write(src, c);
  }

  /**
   * The lookups write() needs anyway (the parent directory, the object there now), made before the
   * data flows; what they found (the old object's size and ETag) is what the write then keeps.
   */
  async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    begin(p, c);
    checkOffset(o.offset);
    this.#writable('write', p);
    if (p === ROOT) throw storageError('is-directory', 'write', p);
    checkKeyLength(keyOf(this.#at, p));
    await this.#requireDir(parentOf(p), c, 'write', p);
    const existing = await find(this.#at, p, c, 'write');
    if (existing?.type === 'dir') throw storageError('is-directory', 'write', p);
    const old = existing?.type === 'file' ? existing : undefined;
    checkRestart(p, o, old?.size);
    return preparedBy((src, c2) => this.#write(p, src, o, c2, old));
  }

  async #write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
    old: FileFound | undefined,
  ): Promise<{ bytes: number }> {
    begin(p, c);
    if (!(o.append || o.offset > 0)) return this.#upload(p, src, o, c, old);
    // The new object is built from the old one: two such uploads at once would both start from it,
    // and the second to complete would drop the first's bytes. They take turns in this process;
    // each starts from the object as the one before left it, and refuses (451, after the 150) if it changed by
    // the time it completes (another process, another S3 client).
    const unlock = await this.#locks.acquire(
      `s3:${this.#at.conn.settings.endpoint ?? ''}|${this.#at.bucket}/${keyOf(this.#at, p)}`,
      c.signal,
    );
    try {
      const now = await find(this.#at, p, c, 'write');
      if (now?.type === 'dir') throw storageError('is-directory', 'write', p);
      const file = now?.type === 'file' ? now : undefined;
      checkRestart(p, o, file?.size); // it may have shrunk since prepareWrite
      return await this.#upload(p, src, o, c, file, true);
    } finally {
      unlock();
    }
  }

  async #upload(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
    old: FileFound | undefined,
    guarded = false,
  ): Promise<{ bytes: number }> {
    // Bytes kept from the old object: all for APPE, the first `offset` for REST.
    const fromOld = o.append ? (old?.size ?? 0) : o.offset;
    const createOnly = !guarded && old === undefined && c.mayReplace?.(p) === false;
    const { sdk, client } = await this.#at.conn.get();
    const key = keyOf(this.#at, p);
    // Large kept bytes are copied inside S3 (UploadPartCopy); fewer than one part are re-read.
    const copy: CopyPrefix | undefined =
      fromOld >= MIN_PART_SIZE ? { key, etag: old?.etag, length: fromOld } : undefined;
    const head = copy || fromOld === 0 ? undefined : await this.#readRange(p, fromOld, c);
    let taken = 0;
    const signal = c.signal;
    const recycle = isRecycling(src) ? (chunk: Buffer) => src.recycle(chunk) : undefined;
    async function* body(): AsyncGenerator<Buffer> {
      if (head) yield head;
      for await (const chunk of chunksOf(addAbortSignal(signal, src))) {
        taken += chunk.length;
        yield chunk;
        recycle?.(chunk); // uploadObject copied it into a part before asking for more
      }
    }
    const target = {
      sdk,
      client,
      bucket: this.#at.bucket,
      key,
      path: p,
      partSize: this.#at.conn.settings.partSize,
      signPayload: this.#at.conn.settings.signPayload,
      signal: c.signal,
      ...(guarded ? { unchanged: () => this.#unchanged(p, c, old) } : {}),
      // Begun onto nothing where nothing may be replaced (a drop box): an object another upload
      // made meanwhile stays. Checked just before, and asked of the request itself (If-None-Match).
      ...(createOnly
        ? { unchanged: () => this.#unchanged(p, c, undefined, createdMeanwhile), createOnly }
        : {}),
    };
    try {
      await uploadObject(target, body(), copy);
    } catch (err) {
      if (createOnly && err instanceof StorageError && preconditionFailed(err.cause))
        throw createdMeanwhile(p);
      throw err;
    }
    return { bytes: taken };
  }

  /**
   * Throws if the object at `p` is no longer `old` (its size and ETag), or appeared: `refusal`'s
   * error, by default transient (451 after the 150).
   */
  async #unchanged(
    p: VPath,
    c: StorageContext,
    old: FileFound | undefined,
    refusal: (p: VPath) => StorageError = changedMeanwhile,
  ): Promise<void> {
    const now = await find(this.#at, p, c, 'write');
    const same = old
      ? now?.type === 'file' && now.size === old.size && now.etag === old.etag
      : now === undefined;
    if (!same) throw refusal(p);
  }

  async mkdir(p: VPath, c: StorageContext): Promise<void> {
    begin(p, c);
    this.#writable('mkdir', p);
    if (p === ROOT) throw storageError('exists', 'mkdir', p);
    checkKeyLength(dirKeyOf(this.#at, p));
    await this.#requireDir(parentOf(p), c, 'mkdir', p);
    if (await find(this.#at, p, c, 'mkdir')) throw storageError('exists', 'mkdir', p);
    await putMarker(this.#at, p, c, 'mkdir');
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    begin(p, c);
    this.#writable('remove', p);
    if (p === ROOT) throw storageError('is-directory', 'remove', p);
    const found = await find(this.#at, p, c, 'remove');
    if (!found) throw await missing(this.#at, p, c, 'remove');
    if (found.type === 'dir') {
      // The file object a directory of the same name hides: DELE of that name deletes it.
      if (!found.file) throw storageError('is-directory', 'remove', p);
      await deleteKeys(this.#at, [keyOf(this.#at, p)], c, 'remove', p);
      return;
    }
    await deleteKeys(this.#at, [keyOf(this.#at, p)], c, 'remove', p);
    await this.#keepDir(parentOf(p), c, 'remove');
  }

  async removeDir(p: VPath, c: StorageContext): Promise<void> {
    begin(p, c);
    this.#writable('rmdir', p);
    if (p === ROOT) throw storageError('permission-denied', 'rmdir', p);
    const found = await find(this.#at, p, c, 'rmdir');
    if (!found) throw await missing(this.#at, p, c, 'rmdir');
    if (found.type !== 'dir') throw storageError('not-directory', 'rmdir', p);
    if (!(await this.#isEmpty(p, c, 'rmdir'))) throw storageError('not-empty', 'rmdir', p);
    await deleteKeys(this.#at, [dirKeyOf(this.#at, p)], c, 'rmdir', p);
    await this.#keepDir(parentOf(p), c, 'rmdir');
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    begin(from, c);
    assertVPath(to);
    this.#writable('rename', from);
    if (from === ROOT || to === ROOT) throw storageError('permission-denied', 'rename', from);
    if (isDescendant(to, from)) throw storageError('into-itself', 'rename', to);
    checkKeyLength(keyOf(this.#at, to)); // a directory's objects are checked once listed (renameDir)
    const src = await find(this.#at, from, c, 'rename');
    if (!src) throw await missing(this.#at, from, c, 'rename');
    await this.#requireDir(parentOf(to), c, 'rename', to);
    if (from === to) return;
    const dst = await find(this.#at, to, c, 'rename');
    // As rename(2): a directory replaces an empty directory (its marker, then overwritten), a file
    // only a file (a directory that is also a file, put by another client, is replaced by neither).
    if (dst && (dst.type === 'dir') !== (src.type === 'dir')) throw storageError('exists', 'rename', to);
    if (dst?.type === 'dir' && (dst.file || !(await this.#isEmpty(to, c, 'rename'))))
      throw storageError(dst.file ? 'exists' : 'not-empty', 'rename', to);
    if (src.type === 'file') {
      await copyObject(this.#at, keyOf(this.#at, from), keyOf(this.#at, to), src.size, c, from);
      await deleteKeys(this.#at, [keyOf(this.#at, from)], c, 'rename', from);
    } else {
      await renameDir(this.#at, from, to, c, dst?.type === 'dir');
    }
    await this.#keepDir(parentOf(from), c, 'rename');
  }

  async uniqueName(dir: VPath, c: StorageContext): Promise<VPath> {
    begin(dir, c);
    this.#writable('unique-name', dir);
    await this.#requireDir(dir, c, 'unique-name', dir);
    for (;;) {
      const p = joinVPath(dir, `ferry-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
      if (!(await find(this.#at, p, c, 'unique-name'))) return p;
    }
  }

  /** Nothing under directory `dir` but its marker. */
  async #isEmpty(dir: VPath, c: StorageContext, op: string): Promise<boolean> {
    const dirKey = dirKeyOf(this.#at, dir);
    const page = await listPage(this.#at, dirKey, undefined, 2, c, op, dir, false);
    return (page.Contents ?? []).every((o) => o.Key === dirKey);
  }

  async #requireDir(dir: VPath, c: StorageContext, op: string, p: VPath): Promise<void> {
    if (dir === ROOT) return;
    const found = await find(this.#at, dir, c, op);
    if (!found) throw await missing(this.#at, p, c, op);
    if (found.type !== 'dir') throw storageError('not-directory', op, p);
  }

  /** After its last entry went, a directory stays as a marker (as on a disk). */
  async #keepDir(dir: VPath, c: StorageContext, op: string): Promise<void> {
    if (dir === ROOT) return;
    const page = await listPage(this.#at, dirKeyOf(this.#at, dir), undefined, 1, c, op, dir, false);
    if ((page.Contents ?? []).length === 0) await putMarker(this.#at, dir, c, op);
  }

  /** The ranged GET of an object's first `length` bytes (fewer than one part), into memory. */
  async #readRange(p: VPath, length: number, c: StorageContext): Promise<Buffer> {
    const { sdk, client } = await this.#at.conn.get();
    const r = await send(
      () =>
        client.send(
          new sdk.GetObjectCommand({
            Bucket: this.#at.bucket,
            Key: keyOf(this.#at, p),
            Range: `bytes=0-${length - 1}`,
          }),
          { abortSignal: c.signal },
        ),
      c,
      'write',
      p,
    );
    const bytes = await r.Body?.transformToByteArray();
    if (!bytes || bytes.length !== length) throw storageError('unavailable', 'write', p);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #writable(op: string, p: VPath): void {
    if (this.#readOnly) throw storageError('permission-denied', op, p);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  }
}

function changedMeanwhile(p: VPath): StorageError {
  return new StorageError(
    'transient',
    `write ${p}: the file changed during the upload; nothing was replaced`,
  );
}
