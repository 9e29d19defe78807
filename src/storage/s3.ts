import { randomBytes } from 'node:crypto';
import { Readable, addAbortSignal } from 'node:stream';
import type { ListObjectsV2CommandOutput, _Object } from '@aws-sdk/client-s3';
import { StorageError } from '../errors.js';
import { abortedError, storageError, throwIfAborted } from './fs-errors.js';
import { MIN_PART_SIZE, normalizePrefix, type S3Connection } from './s3-connection.js';
import { isNotFound, mapS3Error } from './s3-errors.js';
import { openObject } from './s3-download.js';
import { isRecycling } from './recycling.js';
import { chunksOf } from './stream-chunks.js';
import { copySource } from './s3-multipart.js';
import { uploadObject, type CopyPrefix } from './s3-upload.js';
import { preparedBy } from './prepared-write.js';
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
import {
  ROOT,
  assertVPath,
  baseName,
  isAllowedName,
  isDescendant,
  joinVPath,
  parentOf,
  segmentsOf,
} from './virtual-path.js';

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
const LIST_PAGE = 1000;
const ZEROS = Buffer.alloc(64 * 1024);
/** Directories have no time of their own on S3 (a prefix); their marker's, else the epoch. */
const NO_TIME = new Date(0);
/** What an XML 1.0 document cannot hold as is (CR is read back as LF). */
const NOT_IN_XML =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000D\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type FileFound = { type: 'file'; size: number; modified: Date; etag?: string };
/** `file`: the key of the same name, when the name is both (the directory wins; see #find). */
type Found = FileFound | { type: 'dir'; modified: Date; file?: FileFound };

/**
 * Files in an S3 bucket under a key prefix. Directories are prefixes: `a/b` is a directory when a
 * key starts with `a/b/`; an empty one is the marker object `a/b/`. Listings stream ListObjectsV2
 * pages; reads are (ranged) GETs; writes are streamed multipart uploads (s3-upload.ts).
 */
export class S3Storage implements StorageBackend {
  readonly features = FEATURES;
  readonly #conn: S3Connection;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #readOnly: boolean;
  readonly #locks: UploadLocks;

  constructor(o: S3StorageOptions) {
    this.#locks = o.locks ?? o.connection.locks;
    this.#conn = o.connection;
    this.#bucket = o.bucket;
    this.#prefix = normalizePrefix(o.prefix);
    this.#readOnly = o.readOnly ?? false;
  }

  async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    begin(p, c);
    if (p === ROOT) return dirStat(p, NO_TIME);
    const found = await this.#find(p, c, 'stat');
    if (!found) throw await this.#missing(p, c, 'stat');
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
    return this.#list(dir, c);
  }

  async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    begin(p, c);
    checkOffset(o.offset);
    if (p === ROOT) throw storageError('is-directory', 'read', p);
    const { sdk, client } = await this.#conn.get();
    const { partSize, readAhead } = this.#conn.settings;
    try {
      const source = {
        sdk,
        client,
        bucket: this.#bucket,
        key: this.#key(p),
        path: p,
        partSize,
        ahead: readAhead,
      };
      // A body cut by the gateway fails the stream with a plain error: 426 for this transfer.
      return addAbortSignal(c.signal, await openObject(source, o.offset, c.signal));
    } catch (err) {
      if (c.signal.aborted) throw abortedError(c.signal);
      if (err instanceof Error && err.name === 'InvalidRange') return Readable.from([]); // offset ≥ size
      if (isNotFound(err)) {
        if ((await this.#find(p, c, 'read'))?.type === 'dir') throw storageError('is-directory', 'read', p);
        throw await this.#missing(p, c, 'read');
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
    await this.#requireDir(parentOf(p), c, 'write', p);
    const existing = await this.#find(p, c, 'write');
    if (existing?.type === 'dir') throw storageError('is-directory', 'write', p);
    if (!existing && o.offset > 0 && !o.append) throw storageError('not-found', 'write', p);
    const old = existing?.type === 'file' ? existing : undefined;
    return preparedBy((src, c2) => this.#write(p, src, o, c2, old));
  }

  async #write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
    old: Extract<Found, { type: 'file' }> | undefined,
  ): Promise<{ bytes: number }> {
    begin(p, c);
    if (!(o.append || o.offset > 0)) return this.#upload(p, src, o, c, old);
    // The new object is built from the old one: two such uploads at once would both start from it,
    // and the second to complete would drop the first's bytes. They take turns in this process;
    // each starts from the object as the one before left it, and refuses (450) if it changed by
    // the time it completes (another process, another S3 client).
    const unlock = await this.#locks.acquire(
      `s3:${this.#conn.settings.endpoint ?? ''}|${this.#bucket}/${this.#key(p)}`,
      c.signal,
    );
    try {
      const now = await this.#find(p, c, 'write');
      if (now?.type === 'dir') throw storageError('is-directory', 'write', p);
      if (!now && !o.append) throw storageError('not-found', 'write', p);
      return await this.#upload(p, src, o, c, now?.type === 'file' ? now : undefined, true);
    } finally {
      unlock();
    }
  }

  async #upload(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
    old: Extract<Found, { type: 'file' }> | undefined,
    guarded = false,
  ): Promise<{ bytes: number }> {
    // Bytes kept from the old object: all for APPE, `offset` (zero-filled past its end) for REST.
    const keep = o.append ? (old?.size ?? 0) : o.offset;
    const fromOld = Math.min(keep, old?.size ?? 0);
    const zeros = keep - fromOld;
    const { sdk, client } = await this.#conn.get();
    const key = this.#key(p);
    // Large kept bytes are copied inside S3 (UploadPartCopy); fewer than one part are re-read.
    const copy: CopyPrefix | undefined =
      fromOld >= MIN_PART_SIZE ? { key, etag: old?.etag, length: fromOld } : undefined;
    const head = copy || fromOld === 0 ? undefined : await this.#readRange(p, fromOld, c);
    let taken = 0;
    const signal = c.signal;
    const recycle = isRecycling(src) ? (chunk: Buffer) => src.recycle(chunk) : undefined;
    async function* body(): AsyncGenerator<Buffer> {
      if (head) yield head;
      for (let left = zeros; left > 0; left -= ZEROS.length)
        yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
      for await (const chunk of chunksOf(addAbortSignal(signal, src))) {
        taken += chunk.length;
        yield chunk;
        recycle?.(chunk); // uploadObject copied it into a part before asking for more
      }
    }
    const target = {
      sdk,
      client,
      bucket: this.#bucket,
      key,
      path: p,
      partSize: this.#conn.settings.partSize,
      signPayload: this.#conn.settings.signPayload,
      signal: c.signal,
      ...(guarded ? { unchanged: () => this.#unchanged(p, c, old) } : {}),
    };
    await uploadObject(target, body(), copy);
    return { bytes: taken };
  }

  /** Throws (450) if the object at `p` is no longer `old` (its size and ETag), or appeared. */
  async #unchanged(
    p: VPath,
    c: StorageContext,
    old: Extract<Found, { type: 'file' }> | undefined,
  ): Promise<void> {
    const now = await this.#find(p, c, 'write');
    const same = old
      ? now?.type === 'file' && now.size === old.size && now.etag === old.etag
      : now === undefined;
    if (!same)
      throw new StorageError(
        'transient',
        `write ${p}: the file changed during the upload; nothing was replaced`,
      );
  }

  async mkdir(p: VPath, c: StorageContext): Promise<void> {
    begin(p, c);
    this.#writable('mkdir', p);
    if (p === ROOT) throw storageError('exists', 'mkdir', p);
    await this.#requireDir(parentOf(p), c, 'mkdir', p);
    if (await this.#find(p, c, 'mkdir')) throw storageError('exists', 'mkdir', p);
    await this.#putMarker(p, c, 'mkdir');
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    begin(p, c);
    this.#writable('remove', p);
    if (p === ROOT) throw storageError('is-directory', 'remove', p);
    const found = await this.#find(p, c, 'remove');
    if (!found) throw await this.#missing(p, c, 'remove');
    if (found.type === 'dir') {
      // The file object a directory of the same name hides: DELE of that name deletes it.
      if (!found.file) throw storageError('is-directory', 'remove', p);
      await this.#delete([this.#key(p)], c, 'remove', p);
      return;
    }
    await this.#delete([this.#key(p)], c, 'remove', p);
    await this.#keepDir(parentOf(p), c, 'remove');
  }

  async removeDir(p: VPath, c: StorageContext): Promise<void> {
    begin(p, c);
    this.#writable('rmdir', p);
    if (p === ROOT) throw storageError('permission-denied', 'rmdir', p);
    const found = await this.#find(p, c, 'rmdir');
    if (!found) throw await this.#missing(p, c, 'rmdir');
    if (found.type !== 'dir') throw storageError('not-directory', 'rmdir', p);
    const dirKey = this.#dirKey(p);
    const page = await this.#page(dirKey, undefined, 2, c, 'rmdir', p, false);
    if ((page.Contents ?? []).some((o) => o.Key !== dirKey)) throw storageError('not-empty', 'rmdir', p);
    await this.#delete([dirKey], c, 'rmdir', p);
    await this.#keepDir(parentOf(p), c, 'rmdir');
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    begin(from, c);
    assertVPath(to);
    this.#writable('rename', from);
    if (from === ROOT || to === ROOT) throw storageError('permission-denied', 'rename', from);
    if (isDescendant(to, from)) throw storageError('name-not-allowed', 'rename', to);
    const src = await this.#find(from, c, 'rename');
    if (!src) throw await this.#missing(from, c, 'rename');
    await this.#requireDir(parentOf(to), c, 'rename', to);
    if (from === to) return;
    const dst = await this.#find(to, c, 'rename');
    if (dst && (dst.type === 'dir' || src.type === 'dir')) throw storageError('exists', 'rename', to);
    if (src.type === 'file') {
      await this.#copy(this.#key(from), this.#key(to), src.size, c, from);
      await this.#delete([this.#key(from)], c, 'rename', from);
    } else {
      await this.#renameDir(from, to, c);
    }
    await this.#keepDir(parentOf(from), c, 'rename');
  }

  async uniqueName(dir: VPath, c: StorageContext): Promise<VPath> {
    begin(dir, c);
    this.#writable('unique-name', dir);
    await this.#requireDir(dir, c, 'unique-name', dir);
    for (;;) {
      const p = joinVPath(dir, `ferry-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
      if (!(await this.#find(p, c, 'unique-name'))) return p;
    }
  }

  /** Copies every object under `from/` to `to/`, then deletes the originals; bounded in count. */
  async #renameDir(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    const fromKey = this.#dirKey(from);
    const toKey = this.#dirKey(to);
    const max = this.#conn.settings.maxRenameObjects;
    const objects: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.#page(fromKey, token, LIST_PAGE, c, 'rename', from, false);
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        objects.push({ key: o.Key, size: o.Size ?? 0 });
        if (objects.length > max) {
          throw new StorageError(
            'limit',
            `Directory too large to rename here (more than ${max} objects); move its files instead.`,
          );
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    for (const o of objects) await this.#copy(o.key, toKey + o.key.slice(fromKey.length), o.size, c, from);
    if (!objects.some((o) => o.key === fromKey)) await this.#putMarker(to, c, 'rename');
    await this.#delete(
      objects.map((o) => o.key),
      c,
      'rename',
      from,
    );
  }

  /** CopyObject, or a multipart copy above 5 GiB (CopyObject's limit). */
  async #copy(fromKey: string, toKey: string, size: number, c: StorageContext, p: VPath): Promise<void> {
    const { sdk, client } = await this.#conn.get();
    if (size >= 5 * 1024 ** 3) {
      const target = {
        sdk,
        client,
        bucket: this.#bucket,
        key: toKey,
        path: p,
        partSize: this.#conn.settings.partSize,
        signPayload: this.#conn.settings.signPayload,
        signal: c.signal,
      };
      await uploadObject(target, Readable.from([]), { key: fromKey, etag: undefined, length: size });
      return;
    }
    await this.#send(
      () =>
        client.send(
          new sdk.CopyObjectCommand({
            Bucket: this.#bucket,
            Key: toKey,
            CopySource: copySource(this.#bucket, fromKey),
          }),
          { abortSignal: c.signal },
        ),
      c,
      'rename',
      p,
    );
  }

  /** A batch per ListObjectsV2 page (up to 1,000 entries). */
  async *#list(dir: VPath, c: StorageContext): AsyncGenerator<FileStat[]> {
    begin(dir, c);
    const prefix = this.#dirKey(dir);
    let next: Promise<ListObjectsV2CommandOutput> | undefined;
    let token: string | undefined;
    let first = true;
    // A name that is both a key and a prefix (`a` and `a/…`) is listed once, as the directory. The
    // key `a` sorts before `a/`, with only names `a` + a character below '/' between them, so a
    // file is held back until the listing has passed `a/` (on this page or a later one).
    let held: FileStat[] = [];
    do {
      const page = await (next ?? this.#page(prefix, token, LIST_PAGE, c, 'list', dir, true));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      // Fetch the next page while this one is consumed: one page ahead, never more.
      next = token ? this.#page(prefix, token, LIST_PAGE, c, 'list', dir, true) : undefined;
      next?.catch(() => undefined); // observed when awaited
      const dirs = page.CommonPrefixes ?? [];
      const files = page.Contents ?? [];
      if (first && dir !== ROOT && dirs.length === 0 && files.length === 0) {
        // No marker and nothing below: a file, or nothing.
        if ((await this.#find(dir, c, 'list'))?.type === 'file')
          throw storageError('not-directory', 'list', dir);
        throw await this.#missing(dir, c, 'list');
      }
      first = false;
      throwIfAborted(c.signal);
      const batch: FileStat[] = [];
      const dirNames = new Set<string>();
      for (const d of dirs) {
        const name = d.Prefix?.slice(prefix.length, -1);
        if (name === undefined) continue;
        dirNames.add(name);
        if (isAllowedName(name)) batch.push(dirStat(joinVPath(dir, name), NO_TIME));
      }
      held = held.filter((f) => !dirNames.has(f.name));
      for (const f of files) {
        const name = f.Key?.slice(prefix.length);
        if (name === undefined || !isAllowedName(name)) continue; // the marker itself, or unusable
        if (!dirNames.has(name))
          held.push(fileStat(joinVPath(dir, name), f.Size ?? 0, f.LastModified ?? NO_TIME));
      }
      // The last key or prefix of this page: a file sorting below it less its '/' is settled.
      const last = [files.at(-1)?.Key, dirs.at(-1)?.Prefix]
        .filter((k): k is string => k !== undefined)
        .map((k) => Buffer.from(k.slice(prefix.length)))
        .sort(Buffer.compare)
        .at(-1);
      const settled = (f: FileStat): boolean =>
        !token || (last !== undefined && Buffer.compare(Buffer.from(`${f.name}/`), last) < 0);
      batch.push(...held.filter(settled));
      held = held.filter((f) => !settled(f));
      if (batch.length > 0) yield batch;
    } while (token);
  }

  /** One ListObjectsV2 page under `prefix`, by directory (`/` delimiter) or flat. */
  async #page(
    prefix: string,
    token: string | undefined,
    max: number,
    c: StorageContext,
    op: string,
    p: VPath,
    byDirectory: boolean,
  ) {
    const { sdk, client } = await this.#conn.get();
    return this.#send(
      () =>
        client.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.#bucket,
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
  async #find(p: VPath, c: StorageContext, op: string): Promise<Found | undefined> {
    if (p === ROOT) return { type: 'dir', modified: NO_TIME };
    const { sdk, client } = await this.#conn.get();
    const below = this.#page(this.#dirKey(p), undefined, 1, c, op, p, false);
    below.catch(() => undefined); // observed below
    let file: FileFound | undefined;
    try {
      const h = await client.send(new sdk.HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(p) }), {
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
      modified: first.Key === this.#dirKey(p) ? (first.LastModified ?? NO_TIME) : NO_TIME,
      ...(file ? { file } : {}),
    };
  }

  /** The error for a path that is not there: not-directory when a parent is a file. */
  async #missing(p: VPath, c: StorageContext, op: string): Promise<StorageError> {
    const segs = segmentsOf(p);
    for (let i = 1; i < segs.length; i++) {
      const ancestor = ('/' + segs.slice(0, i).join('/')) as VPath;
      const found = await this.#find(ancestor, c, op);
      if (!found) return storageError('not-found', op, p);
      if (found.type === 'file') return storageError('not-directory', op, p);
    }
    return storageError('not-found', op, p);
  }

  async #requireDir(dir: VPath, c: StorageContext, op: string, p: VPath): Promise<void> {
    if (dir === ROOT) return;
    const found = await this.#find(dir, c, op);
    if (!found) throw await this.#missing(p, c, op);
    if (found.type !== 'dir') throw storageError('not-directory', op, p);
  }

  /** After its last entry went, a directory stays as a marker (as on a disk). */
  async #keepDir(dir: VPath, c: StorageContext, op: string): Promise<void> {
    if (dir === ROOT) return;
    const page = await this.#page(this.#dirKey(dir), undefined, 1, c, op, dir, false);
    if ((page.Contents ?? []).length === 0) await this.#putMarker(dir, c, op);
  }

  async #putMarker(dir: VPath, c: StorageContext, op: string): Promise<void> {
    const { sdk, client } = await this.#conn.get();
    await this.#send(
      () =>
        client.send(
          new sdk.PutObjectCommand({
            Bucket: this.#bucket,
            Key: this.#dirKey(dir),
            Body: '',
            ContentLength: 0,
          }),
          { abortSignal: c.signal },
        ),
      c,
      op,
      dir,
    );
  }

  async #delete(all: string[], c: StorageContext, op: string, p: VPath): Promise<void> {
    const { sdk, client } = await this.#conn.get();
    // DeleteObjects names its keys in an XML body, which cannot carry most control characters (and
    // turns CR into LF): such keys (put by another S3 client) go one by one, in the URL.
    const keys = all.filter((k) => !NOT_IN_XML.test(k));
    const one = (key: string): Promise<unknown> =>
      this.#send(
        () =>
          client.send(new sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: key }), {
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
      const r = await this.#send(
        () =>
          client.send(
            new sdk.DeleteObjectsCommand({
              Bucket: this.#bucket,
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

  /** The ranged GET of an object's first `length` bytes (fewer than one part), into memory. */
  async #readRange(p: VPath, length: number, c: StorageContext): Promise<Buffer> {
    const { sdk, client } = await this.#conn.get();
    const r = await this.#send(
      () =>
        client.send(
          new sdk.GetObjectCommand({
            Bucket: this.#bucket,
            Key: this.#key(p),
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

  async #send<T>(run: () => Promise<T>, c: StorageContext, op: string, p: string): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (c.signal.aborted) throw abortedError(c.signal);
      throw mapS3Error(err, op, p);
    }
  }

  #key(p: VPath): string {
    return this.#prefix + p.slice(1);
  }

  #dirKey(p: VPath): string {
    return p === ROOT ? this.#prefix : `${this.#prefix}${p.slice(1)}/`;
  }

  #writable(op: string, p: VPath): void {
    if (this.#readOnly) throw storageError('permission-denied', op, p);
  }
}

function begin(p: string, c: StorageContext): asserts p is VPath {
  assertVPath(p);
  throwIfAborted(c.signal);
}

function dirStat(p: VPath, modified: Date): FileStat {
  return { name: baseName(p) || '/', path: p, type: 'dir', size: 0, modified, mode: 0o755 };
}

function fileStat(p: VPath, size: number, modified: Date): FileStat {
  return { name: baseName(p), path: p, type: 'file', size, modified, mode: 0o644 };
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  }
}
