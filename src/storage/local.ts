import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, type Dirent, type Stats, type WriteStream } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  open,
  opendir,
  realpath,
  rename,
  rmdir,
  stat,
  truncate,
  unlink,
  utimes,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../errors.js';
import { abortedError, errnoCode, mapFsError, storageError, throwIfAborted } from './fs-errors.js';
import type { FileStat, StorageBackend, StorageContext, StorageFeature, VPath } from './types.js';
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

export interface LocalStorageOptions {
  /** Host directory that is `/` for the session. */
  root: string;
  readOnly?: boolean;
}

/** Large chunks: fewer syscalls and event-loop turns per MiB. */
const CHUNK = 256 * 1024;
/** lstat calls in flight per listing batch. */
const STAT_BATCH = 64;
const TEMP_PREFIX = '.ferry-upload-';
const TEMP_SUFFIX = '.tmp';
/** O_NONBLOCK: opening a FIFO must not park a libuv thread; O_NOFOLLOW: the last hop was already checked. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

const FEATURES: ReadonlySet<StorageFeature> = new Set<StorageFeature>([
  'restart-read',
  'restart-write',
  'append',
  'set-modified',
  'chmod',
]);

function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
}

function noop(): void {}

interface Entry {
  /** Host path of the entry itself (its parent resolved and verified; the entry not followed). */
  host: string;
  /** lstat of the entry, undefined if it does not exist. */
  lst: Stats | undefined;
  /** For a symlink that resolves (inside the root): its real path. */
  linkReal: string | undefined;
}

/**
 * Local disk jailed at `root`. Every path is resolved with realpath and must stay inside
 * realpath(root), so a symlink pointing outside is refused rather than followed.
 */
export class LocalStorage implements StorageBackend {
  readonly features = FEATURES;
  readonly #root: string;
  readonly #readOnly: boolean;
  #rootReal: Promise<string> | undefined;

  constructor(options: LocalStorageOptions) {
    if (typeof options.root !== 'string' || options.root === '') {
      throw new FerryError('ERR_INVALID_OPTION', 'LocalStorage: `root` must be a non-empty directory path.');
    }
    this.#root = resolve(options.root);
    this.#readOnly = options.readOnly ?? false;
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    this.#begin(p, c);
    const real = await this.#resolveExisting(p, 'stat');
    try {
      return toFileStat(baseName(p) || '/', p, await stat(real));
    } catch (err) {
      throw mapFsError(err, 'stat', p);
    }
  }

  list(dir: VPath, c: StorageContext): AsyncIterable<FileStat> {
    return this.#list(dir, c);
  }

  async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    this.#begin(p, c);
    checkOffset(o.offset);
    const real = await this.#resolveExisting(p, 'read');
    let fh: FileHandle;
    try {
      fh = await open(real, READ_FLAGS);
    } catch (err) {
      throw mapFsError(err, 'read', p);
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw storageError('is-directory', 'read', p);
      if (!st.isFile()) throw storageError('permission-denied', 'read', p);
    } catch (err) {
      await fh.close().catch(noop);
      throw mapFsError(err, 'read', p);
    }
    return addAbortSignal(c.signal, fh.createReadStream({ start: o.offset, highWaterMark: CHUNK }));
  }

  async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    this.#begin(p, c);
    this.#assertWritable('write', p);
    checkOffset(o.offset);
    if (p === ROOT) throw storageError('is-directory', 'write', p);
    const entry = await this.#resolveEntry(p, 'write', true);
    // Writing through a link (already verified to stay inside) updates its target.
    let target = entry.host;
    let existing = entry.lst;
    if (entry.linkReal !== undefined) {
      target = entry.linkReal;
      existing = await stat(target).catch(() => undefined);
    } else if (existing?.isSymbolicLink()) {
      existing = undefined; // dangling link: replaced by the new file
    }
    if (existing?.isDirectory()) throw storageError('is-directory', 'write', p);
    if (existing && !existing.isFile()) throw storageError('permission-denied', 'write', p);

    let keep = 0;
    let extendTo = 0;
    if (o.append) {
      keep = existing?.size ?? 0;
    } else if (o.offset > 0) {
      if (!existing) throw storageError('not-found', 'write', p);
      keep = Math.min(o.offset, existing.size);
      extendTo = o.offset;
    }

    const dir = dirname(target);
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
    // pipeline re-raises the first failure on the other stream too, so whichever failed first decides:
    // the client's data connection (passed through) or the disk (mapped, e.g. ENOSPC → 552).
    let srcError: unknown;
    let destError: unknown;
    let firstFailed: 'src' | 'dest' | undefined;
    const onSrcError = (err: unknown): void => {
      srcError ??= err;
      firstFailed ??= 'src';
    };
    src.on('error', onSrcError);
    let created = false;
    let committed = false;
    let ws: WriteStream | undefined;
    try {
      // O_EXCL reserves a fresh name (and never follows a planted symlink); streams reopen it by path
      // so each stream owns its descriptor and closes it even on abort.
      await (await open(tmp, 'wx', 0o666)).close();
      created = true;
      if (keep > 0 && keep === existing?.size) {
        await copyFile(target, tmp, constants.COPYFILE_FICLONE); // kernel copy (or reflink)
      } else if (keep > 0) {
        await copyPrefix(target, tmp, keep, c.signal);
      }
      if (extendTo > keep) await truncate(tmp, extendTo); // zero-fill, sparse where supported
      if (existing) await chmod(tmp, existing.mode & 0o7777);
      // flush: fsync before close, and pipeline settles only after close, so the bytes are durable.
      ws = createWriteStream(tmp, {
        flags: 'r+',
        start: Math.max(keep, extendTo),
        flush: true,
        highWaterMark: CHUNK,
      });
      ws.once('error', (err) => {
        destError ??= err;
        firstFailed ??= 'dest';
      });
      await pipeline(src, ws, { signal: c.signal });
      await rename(tmp, target);
      committed = true;
      await syncDir(dir);
      return { bytes: ws.bytesWritten };
    } catch (err) {
      if (ws) await closed(ws); // its fd must be closed before the unlink (matters on Windows)
      if (created && !committed) await unlink(tmp).catch(noop);
      if (c.signal.aborted) throw abortedError(c.signal);
      // The data connection's own failure is the caller's to interpret; pass it through.
      if (firstFailed === 'dest') throw mapFsError(destError, 'write', p);
      if (srcError !== undefined && err === srcError) throw err;
      throw mapFsError(err, 'write', p);
    } finally {
      src.off('error', onSrcError);
    }
  }

  async mkdir(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('mkdir', p);
    if (p === ROOT) throw storageError('exists', 'mkdir', p);
    const entry = await this.#resolveEntry(p, 'mkdir', true);
    if (entry.lst) throw storageError('exists', 'mkdir', p);
    try {
      await mkdir(entry.host);
    } catch (err) {
      throw mapFsError(err, 'mkdir', p);
    }
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('remove', p);
    if (p === ROOT) throw storageError('is-directory', 'remove', p);
    const entry = await this.#resolveEntry(p, 'remove', false);
    if (!entry.lst) throw storageError('not-found', 'remove', p);
    if (entry.lst.isDirectory()) throw storageError('is-directory', 'remove', p);
    try {
      await unlink(entry.host); // a link is removed, never its target
    } catch (err) {
      throw mapFsError(err, 'remove', p);
    }
  }

  async removeDir(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('rmdir', p);
    if (p === ROOT) throw storageError('permission-denied', 'rmdir', p);
    const entry = await this.#resolveEntry(p, 'rmdir', false);
    if (!entry.lst) throw storageError('not-found', 'rmdir', p);
    if (!entry.lst.isDirectory()) throw storageError('not-directory', 'rmdir', p);
    try {
      await rmdir(entry.host);
    } catch (err) {
      // Linux says ENOTEMPTY, some systems EEXIST.
      if (errnoCode(err) === 'EEXIST') throw storageError('not-empty', 'rmdir', p, err);
      throw mapFsError(err, 'rmdir', p);
    }
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    this.#begin(from, c);
    assertVPath(to);
    this.#assertWritable('rename', from);
    if (from === ROOT || to === ROOT) throw storageError('permission-denied', 'rename', from);
    if (isDescendant(to, from)) throw storageError('name-not-allowed', 'rename', to);
    const a = await this.#resolveEntry(from, 'rename', false);
    if (!a.lst) throw storageError('not-found', 'rename', from);
    const b = await this.#resolveEntry(to, 'rename', true);
    if (b.lst) {
      const same = b.lst.ino === a.lst.ino && b.lst.dev === a.lst.dev; // case-only rename on some filesystems
      if (!same && (a.lst.isDirectory() || b.lst.isDirectory())) throw storageError('exists', 'rename', to);
    }
    try {
      await rename(a.host, b.host);
    } catch (err) {
      throw mapFsError(err, 'rename', from);
    }
  }

  async setModified(p: VPath, date: Date, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('set-modified', p);
    const real = await this.#resolveExisting(p, 'set-modified');
    try {
      const st = await stat(real);
      await utimes(real, st.atime, date);
    } catch (err) {
      throw mapFsError(err, 'set-modified', p);
    }
  }

  async chmod(p: VPath, mode: number, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('chmod', p);
    const real = await this.#resolveExisting(p, 'chmod');
    try {
      await chmod(real, mode & 0o7777);
    } catch (err) {
      throw mapFsError(err, 'chmod', p);
    }
  }

  async uniqueName(dir: VPath, c: StorageContext): Promise<VPath> {
    this.#begin(dir, c);
    this.#assertWritable('unique-name', dir);
    const real = await this.#resolveExisting(dir, 'unique-name');
    for (let i = 0; i < 16; i++) {
      const name = `ferry-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
      try {
        await lstat(join(real, name));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return joinVPath(dir, name);
        throw mapFsError(err, 'unique-name', dir);
      }
    }
    throw storageError('transient', 'unique-name', dir);
  }

  async *#list(dir: VPath, c: StorageContext): AsyncGenerator<FileStat> {
    this.#begin(dir, c);
    const rootReal = await this.#realRoot();
    const real = await this.#resolveExisting(dir, 'list');
    let handle;
    try {
      handle = await opendir(real, { bufferSize: 128 });
    } catch (err) {
      throw mapFsError(err, 'list', dir);
    }
    try {
      let done = false;
      while (!done) {
        const batch: Dirent[] = [];
        while (batch.length < STAT_BATCH) {
          const d = await handle.read();
          if (d === null) {
            done = true;
            break;
          }
          // Temp uploads are hidden; names a client could not address (e.g. with '\n') would garble listings.
          if (!isTempName(d.name) && isAllowedName(d.name)) batch.push(d);
        }
        throwIfAborted(c.signal);
        const stats = await Promise.all(batch.map((d) => this.#entryStat(rootReal, real, dir, d.name)));
        for (const s of stats) if (s) yield s;
      }
    } catch (err) {
      if (c.signal.aborted) throw abortedError(c.signal);
      throw mapFsError(err, 'list', dir);
    } finally {
      await handle.close().catch(noop);
    }
  }

  async #entryStat(rootReal: string, real: string, dir: VPath, name: string): Promise<FileStat | undefined> {
    const host = join(real, name);
    let st: Stats;
    try {
      st = await lstat(host);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // removed since readdir
      throw err;
    }
    const fs = toFileStat(name, joinVPath(dir, name), st);
    if (st.isSymbolicLink()) {
      // Show where it leads only if that is inside; a host path must never reach the client.
      const target = await realpath(host).catch(() => undefined);
      if (target !== undefined && isInside(target, rootReal)) fs.target = toVPath(target, rootReal);
    }
    return fs;
  }

  #begin(p: string, c: StorageContext): asserts p is VPath {
    assertVPath(p);
    throwIfAborted(c.signal);
  }

  #assertWritable(op: string, p: VPath): void {
    if (this.#readOnly) throw storageError('permission-denied', op, p);
  }

  #realRoot(): Promise<string> {
    this.#rootReal ??= realpath(this.#root).catch((err: unknown) => {
      this.#rootReal = undefined; // retry next time: the root may be mounted later
      throw mapFsError(err, 'open', '/');
    });
    return this.#rootReal;
  }

  /** Real host path of an existing `p`, verified to be inside the root; errors name `shown`. */
  async #resolveExisting(p: VPath, op: string, shown: VPath = p): Promise<string> {
    const rootReal = await this.#realRoot();
    const segs = segmentsOf(p);
    if (segs.some(isTempName)) throw storageError('name-not-allowed', op, shown);
    let real: string;
    try {
      real = await realpath(join(rootReal, ...segs));
    } catch (err) {
      const code = errnoCode(err);
      // Do not reveal what exists beyond a link that leads outside: check the deepest ancestor.
      if (code === 'ENOENT' || code === 'ENOTDIR') await this.#checkAncestors(rootReal, segs, shown, op);
      throw mapFsError(err, op, shown);
    }
    if (!isInside(real, rootReal)) throw storageError('permission-denied', op, shown);
    return real;
  }

  async #checkAncestors(rootReal: string, segs: string[], p: VPath, op: string): Promise<void> {
    for (let i = segs.length - 1; i > 0; i--) {
      let real: string;
      try {
        real = await realpath(join(rootReal, ...segs.slice(0, i)));
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw mapFsError(err, op, p);
      }
      if (!isInside(real, rootReal)) throw storageError('permission-denied', op, p);
      return;
    }
  }

  /** The entry itself (not followed): parent resolved and verified; a link leading outside is refused. */
  async #resolveEntry(p: VPath, op: string, creating: boolean): Promise<Entry> {
    const name = baseName(p);
    if (isTempName(name)) throw storageError(creating ? 'name-not-allowed' : 'not-found', op, p);
    const parentReal = await this.#resolveExisting(parentOf(p), op, p);
    const host = join(parentReal, name);
    let lst: Stats | undefined;
    try {
      lst = await lstat(host);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, op, p);
    }
    let linkReal: string | undefined;
    if (lst?.isSymbolicLink()) {
      const rootReal = await this.#realRoot();
      try {
        linkReal = await realpath(host);
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ENOENT' && code !== 'ELOOP') throw mapFsError(err, op, p);
      }
      if (linkReal !== undefined && !isInside(linkReal, rootReal)) {
        throw storageError('permission-denied', op, p);
      }
    }
    return { host, lst, linkReal };
  }
}

function isInside(real: string, rootReal: string): boolean {
  if (real === rootReal) return true;
  return real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

function toVPath(real: string, rootReal: string): string {
  const rel = relative(rootReal, real);
  return rel === '' ? '/' : '/' + rel.split(sep).join('/');
}

function toFileStat(name: string, path: VPath, st: Stats): FileStat {
  return {
    name,
    path,
    type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file',
    size: st.size,
    modified: st.mtime,
    mode: st.mode & 0o7777,
    id: `${st.dev.toString(16)}g${st.ino.toString(16)}`,
  };
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  }
}

/** Copies the first `length` bytes of `from` into the start of `to` (REST keeps the old bytes). */
async function copyPrefix(from: string, to: string, length: number, signal: AbortSignal): Promise<void> {
  const fh = await open(from, READ_FLAGS);
  // The read stream owns `fh` (autoClose) and closes it on end or destroy.
  await pipeline(
    fh.createReadStream({ start: 0, end: length - 1, highWaterMark: CHUNK }),
    createWriteStream(to, { flags: 'r+', start: 0, highWaterMark: CHUNK }),
    { signal },
  );
}

function closed(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) resolve();
    else stream.once('close', () => resolve());
  });
}

/** Makes the rename durable; best effort (some filesystems refuse fsync on directories). */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch {
    // ignore: the data itself is already synced
  } finally {
    await fh?.close().catch(noop);
  }
}
