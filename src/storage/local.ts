import { accessBits, processIds } from './host-access.js';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  opendir,
  readdir,
  realpath,
  rename,
  rmdir,
  stat as fsStat,
  unlink,
  utimes,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { FerryError, StorageError } from '../errors.js';
import { FileChunks } from './file-chunks.js';
import { assertFdPathsAvailable, FdJail, isInside, toVPath, type Pinned } from './fd-jail.js';
import { abortedError, errnoCode, mapFsError, storageError, throwIfAborted } from './fs-errors.js';
import { isServed, ListingReader, toFileStat } from './listing-stat.js';
import { MountTable } from './local-filesystems.js';
import type { MetaFs } from './meta-fs.js';
import { atomicWrite, REOPEN_READ, type WriteTarget } from './local-write.js';
import { CHUNK } from './recycling.js';
import { openUpload, releaseUpload, type UploadFiles } from './write-access.js';
import { checkRestart, preparedBy } from './prepared-write.js';
import { PoolBudget } from './pool-budget.js';
import { keepsExisting, lockTarget } from './target-guard.js';
import type {
  FileSource,
  FileStat,
  PreparedWrite,
  StorageBackend,
  StorageContext,
  StorageFeature,
  VPath,
} from './types.js';
import { UploadLocks } from './upload-locks.js';
import { isTempName, removeStaleTemps, type TempLeft } from './upload-temp.js';
import { nameOnDisk, unlistedDetail, type Unlisted } from './unlisted-entries.js';
import {
  ROOT,
  assertVPath,
  baseName,
  isVPath,
  isDescendant,
  joinVPath,
  parentOf,
  segmentsOf,
} from './virtual-path.js';

export interface LocalStorageOptions {
  /** Host directory that is `/` for the session. */
  root: string;
  readOnly?: boolean;
  /**
   * Listings lstat each entry from inside its directory, the process's working directory borrowed
   * for a moment (working-directory.ts): a 10,000-entry listing takes ~16 ms less. Only where
   * nothing in the process uses relative paths (`ferry serve` sets it).
   */
  borrowWorkingDirectory?: boolean;
  /**
   * Serialises the uploads that keep a file's bytes (APPE, REST n + STOR) per file. Share one among
   * all the storages of a process that may reach the same files (one per session, per folder…),
   * else each storage serialises only its own uploads (upload-locks.ts). Default: this storage's own.
   */
  locks?: UploadLocks;
  /**
   * The thread-pool slots its calls take when its tree is not all on local filesystems
   * (pool-budget.ts). Share one among all the storages of a process (the pool is the process's:
   * `ferry serve` does); default: this storage's own.
   */
  poolBudget?: PoolBudget;
  /**
   * Judges whether its tree is on local filesystems (local-filesystems.ts). Share one among all the
   * storages of a process (`ferry serve` does); default: this storage's own.
   */
  mounts?: MountTable;
}

/** Entries stat'ed per listing batch (in flight at once when the thread pool is used). */
const STAT_BATCH = 256;
/**
 * A listed directory up to this size (st_size) has its names read in one call (listing-stat.ts
 * wholeDirectoryBytes): ~10,000 names of 15 characters on ext4 (320 KiB), a few MB of strings at most.
 */
const WHOLE_DIRECTORY_BYTES = 384 * 1024;
/** Downloads up to this size are read at once, not streamed. */
const SMALL_READ = 256 * 1024;

const FEATURES: ReadonlySet<StorageFeature> = new Set<StorageFeature>([
  'restart-read',
  'restart-write',
  'append',
  'set-modified',
  'chmod',
  'size-at-open',
]);

function noop(): void {}

/** For a call no client can abort. */
const NEVER = new AbortController().signal;

/**
 * A small file's bytes, already in memory, as a stream. No abort signal: there is nothing left to
 * stop, and a stream destroyed unread with one attached (a RETR sends `whole` instead) makes a
 * premature-close error, stack and all, per file.
 */
function bufferSource(bytes: Buffer): Readable {
  return new Readable({
    read() {
      if (bytes.length > 0) this.push(bytes);
      this.push(null);
    },
  });
}

/** An entry by name in its verified parent directory (the entry itself not followed). */
interface Entry {
  dir: Pinned;
  name: string;
  /** lstat of the entry, undefined if it does not exist. */
  lst: Stats | undefined;
}

/**
 * Local disk jailed at `root`. A path is resolved with realpath (a symlink leading outside is
 * refused, one staying inside followed), and then every operation acts on a descriptor verified to
 * be inside realpath(root) (fd-jail.ts), never again on the path: renaming directories or planting
 * symlinks while Ferry works cannot make it read or write outside the root. Linux only.
 */
/** Where a temp file an upload could not remove is told of (the session logs it). */
function tempLeft(c: StorageContext, p: VPath): TempLeft {
  return (temp, errno) => c.tempLeft?.(p, temp, errno);
}

export class LocalStorage implements StorageBackend {
  readonly features = FEATURES;
  readonly #root: string;
  readonly #readOnly: boolean;
  readonly #borrowCwd: boolean;
  readonly #locks: UploadLocks;
  readonly #budget: PoolBudget;
  readonly #mounts: MountTable;
  #jail: Promise<FdJail> | undefined;
  /** The jail once opened: a local tree's calls then start without waiting on a promise. */
  #jailNow: FdJail | undefined;

  constructor(options: LocalStorageOptions) {
    if (typeof options.root !== 'string' || options.root === '') {
      throw new FerryError('ERR_INVALID_OPTION', 'LocalStorage: `root` must be a non-empty directory path.');
    }
    assertFdPathsAvailable();
    this.#root = resolve(options.root);
    this.#readOnly = options.readOnly ?? false;
    this.#borrowCwd = options.borrowWorkingDirectory ?? false;
    this.#locks = options.locks ?? new UploadLocks();
    this.#budget = options.poolBudget ?? new PoolBudget();
    this.#mounts = options.mounts ?? new MountTable();
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  async checkRoot(c: StorageContext): Promise<void> {
    throwIfAborted(c.signal);
    // The root itself, not through the jail (which pins it for the session's commands). The host
    // path goes in the cause only: the server logs it, the client never sees it.
    const st = await this.#rooted(c.signal, () => fsStat(this.#root)).catch((err: unknown) => {
      throw mapFsError(err, 'open', ROOT);
    });
    if (!st.isDirectory())
      throw storageError('not-directory', 'open', ROOT, new Error(`${this.#root}: not a directory`));
  }

  async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    this.#begin(p, c);
    return this.#gated(c, async () => {
      const obj = await this.#pinExisting(p, 'stat', c);
      await obj.close();
      const st = toFileStat(baseName(p) || '/', p, obj.st);
      // One entry's stat only (CWD, MLST): listings stay as fast as they are.
      const ids = processIds();
      return ids ? { ...st, access: accessBits(obj.st, ids) } : st;
    });
  }

  list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    return this.#list(dir, c);
  }

  async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    this.#begin(p, c);
    checkOffset(o.offset);
    return this.#gated(c, async () => {
      const obj = await this.#pinExisting(p, 'read', c);
      try {
        if (obj.st.isDirectory()) throw storageError('is-directory', 'read', p);
        // The verified inode itself, opened for reading through its magic link. What the file holds
        // now (the size the 150 announced) is sent: no extra read to find the end.
        const { meta, remote } = await this.#fdJail();
        const remaining = obj.st.size - o.offset;
        if (remaining <= SMALL_READ) {
          const bytes = await meta.readSmall(obj.path, REOPEN_READ, o.offset, Math.max(0, remaining));
          return Object.assign(bufferSource(bytes), { fileSize: obj.st.size, whole: bytes });
        }
        const fd = await meta.open(obj.path, REOPEN_READ);
        // Not local: each read takes its own slot (the transfer holds none between them).
        const gate = remote === undefined ? undefined : <T>(call: () => Promise<T>) => this.#gated(c, call);
        const src = addAbortSignal(
          c.signal,
          new FileChunks(fd, o.offset, obj.st.size, Math.min(CHUNK, remaining), gate),
        );
        return Object.assign(src, { fileSize: obj.st.size });
      } catch (err) {
        throw mapFsError(err, 'read', p);
      } finally {
        await obj.close();
      }
    });
  }

  async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    return (await this.prepareWrite(p, o, c)).write(src, c);
  }

  /** The target's directory (and the file there, if any) pinned until the write or the release. */
  async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    this.#begin(p, c);
    this.#assertWritable('write', p);
    checkOffset(o.offset);
    if (p === ROOT) throw storageError('is-directory', 'write', p);
    // The lookup only: the upload's bytes, and waiting for another upload's lock, take no slot.
    let target = await this.#gated(c, () => this.#writeTarget(p, c));
    let unlock = noop;
    let moved: (() => void) | undefined;
    let files: UploadFiles;
    try {
      // Held until the rename (or the release): the next such upload starts from this one's result.
      if (keepsExisting(o))
        ({ target, unlock, moved } = await lockTarget(await this.#fdJail(), this.#locks, target, c, p));
      checkRestart(p, o, target.existing?.st.size);
      const t0 = target;
      const jail = await this.#fdJail();
      // The upload's temp file, made now: a refusal for good comes before the 150.
      files = await this.#gated(c, () =>
        openUpload(jail, t0, keepsExisting(o), p, this.#locks.leftTemps, tempLeft(c, p)),
      );
    } catch (err) {
      unlock();
      await target.existing?.close();
      await target.dir.close();
      throw err;
    }
    const [t, f] = [target, files];
    return preparedBy(
      async (src, c2) => {
        try {
          if (c2.signal.aborted) {
            await releaseUpload(f, this.#locks.leftTemps, tempLeft(c2, p)); // atomicWrite owns the files only once it runs
            throwIfAborted(c2.signal);
          }
          // Those waiting for this upload's lock see it move as its bytes arrive.
          const steps = moved && { ...c2, progress: () => (c2.progress?.(), moved()) };
          return await atomicWrite(await this.#fdJail(), t, f, src, o, steps ?? c2, p, this.#locks.leftTemps);
        } finally {
          unlock();
          await t.existing?.closeFreeing(); // the file it replaced: its blocks are freed now
          await t.dir.close();
        }
      },
      async () => {
        await releaseUpload(f, this.#locks.leftTemps, tempLeft(c, p)); // never written (425, ABOR before the data): its temp file goes
        unlock();
        await t.existing?.close();
        await t.dir.close();
      },
    );
  }

  async mkdir(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('mkdir', p);
    if (p === ROOT) throw storageError('exists', 'mkdir', p);
    await this.#gated(c, () =>
      this.#withEntry(p, 'mkdir', c, true, async (e) => {
        if (e.lst) throw storageError('exists', 'mkdir', p);
        await mkdir(e.dir.child(e.name));
      }),
    );
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('remove', p);
    if (p === ROOT) throw storageError('is-directory', 'remove', p);
    await this.#gated(c, () =>
      this.#withEntry(p, 'remove', c, false, async (e) => {
        if (!e.lst) throw storageError('not-found', 'remove', p);
        if (e.lst.isDirectory()) throw storageError('is-directory', 'remove', p);
        await unlink(e.dir.child(e.name)); // a link is removed, never its target
      }),
    );
  }

  async removeDir(p: VPath, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('rmdir', p);
    if (p === ROOT) throw storageError('permission-denied', 'rmdir', p);
    await this.#gated(c, () =>
      this.#withEntry(p, 'rmdir', c, false, async (e) => {
        if (!e.lst) throw storageError('not-found', 'rmdir', p);
        if (!e.lst.isDirectory()) throw storageError('not-directory', 'rmdir', p);
        try {
          await rmdir(e.dir.child(e.name));
        } catch (err) {
          const code = errnoCode(err);
          // Linux says ENOTEMPTY, some systems EEXIST. Empty but for crash leftovers: remove them.
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          const left = await this.#clearStaleTemps(e, p);
          if (left === 'served') throw storageError('not-empty', 'rmdir', p, err);
          // Looks empty in a listing, which leaves out names no client can address, FIFOs, sockets,
          // devices and the temp files of uploads in progress: say why it is not.
          if (left !== 'empty') {
            const detail = left === 'uploading' ? UPLOAD_INSIDE : unlistedDetail(left);
            throw new StorageError('not-empty', `rmdir ${p}: ${detail}`, { cause: err, detail });
          }
          await rmdir(e.dir.child(e.name));
        }
      }),
    );
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    this.#begin(from, c);
    assertVPath(to);
    this.#assertWritable('rename', from);
    if (from === ROOT || to === ROOT) throw storageError('permission-denied', 'rename', from);
    if (isDescendant(to, from)) throw storageError('into-itself', 'rename', to);
    await this.#gated(c, async () => {
      const jail = await this.#fdJail();
      await this.#withEntry(from, 'rename', c, false, async (a) => {
        if (!a.lst) throw storageError('not-found', 'rename', from);
        const al = a.lst;
        await this.#withEntry(to, 'rename', c, true, async (b) => {
          if (b.lst) {
            const same = b.lst.ino === al.ino && b.lst.dev === al.dev; // case-only rename on some filesystems
            // As rename(2): a directory replaces only an empty directory (the kernel checks, atomically).
            if (!same && al.isDirectory() !== b.lst.isDirectory()) throw storageError('exists', 'rename', to);
          }
          await jail.verify(a.dir.fd, 'rename', from);
          await jail.verify(b.dir.fd, 'rename', to);
          try {
            await rename(a.dir.child(a.name), b.dir.child(b.name));
          } catch (err) {
            // Into itself by another way than its path (a link to it): the kernel's EINVAL.
            if (errnoCode(err) === 'EINVAL' && al.isDirectory())
              throw storageError('into-itself', 'rename', to, err);
            throw mapFsError(err, 'rename', from);
          }
        });
      });
    });
  }

  async setModified(p: VPath, date: Date, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('set-modified', p);
    await this.#gated(c, async () => {
      const obj = await this.#pinExisting(p, 'set-modified', c);
      try {
        await utimes(obj.path, obj.st.atime, date); // through the magic link: the pinned inode
      } catch (err) {
        throw mapFsError(err, 'set-modified', p);
      } finally {
        await obj.close();
      }
    });
  }

  async chmod(p: VPath, mode: number, c: StorageContext): Promise<void> {
    this.#begin(p, c);
    this.#assertWritable('chmod', p);
    await this.#gated(c, async () => {
      const obj = await this.#pinExisting(p, 'chmod', c);
      try {
        await chmod(obj.path, mode & 0o7777);
      } catch (err) {
        throw mapFsError(err, 'chmod', p);
      } finally {
        await obj.close();
      }
    });
  }

  async uniqueName(dir: VPath, c: StorageContext): Promise<VPath> {
    this.#begin(dir, c);
    this.#assertWritable('unique-name', dir);
    return this.#gated(c, async () => {
      const d = await this.#pinExistingDir(dir, 'unique-name', c);
      try {
        for (let i = 0; i < 16; i++) {
          const name = `ferry-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
          try {
            await lstat(d.child(name));
          } catch (err) {
            if (errnoCode(err) === 'ENOENT') return joinVPath(dir, name);
            throw mapFsError(err, 'unique-name', dir);
          }
        }
      } finally {
        await d.close();
      }
      throw storageError('transient', 'unique-name', dir);
    });
  }

  async *#list(dir: VPath, c: StorageContext): AsyncGenerator<FileStat[]> {
    this.#begin(dir, c);
    const { rootReal, meta, remote } = await this.#fdJail(c);
    // Between batches the client may take its time: each call takes its own slot, not the listing.
    const gate = remote === undefined ? undefined : <T>(call: () => Promise<T>) => this.#gated(c, call);
    const [d, handle] = await this.#gated(c, async () => {
      const d = await this.#pinExistingDir(dir, 'list', c);
      try {
        return [d, await opendir(d.path, { bufferSize: STAT_BATCH })] as const;
      } catch (err) {
        await d.close();
        throw mapFsError(err, 'list', dir);
      }
    });
    const reader = new ListingReader(d, handle, dir, {
      batchSize: STAT_BATCH,
      synchronous: meta.synchronous,
      wholeDirectoryBytes: WHOLE_DIRECTORY_BYTES,
      borrowWorkingDirectory: this.#borrowCwd,
      namesOnly: c.namesOnly === true,
      tooLong: c.tooLong && ((name) => c.tooLong?.(dir, name)),
      ...(gate && { gate }),
    });
    try {
      for (let batch = await reader.next(); batch !== undefined; batch = await reader.next()) {
        throwIfAborted(c.signal);
        // A names-only listing shows no link's target (NLST).
        if (c.namesOnly !== true)
          for (const e of batch)
            if (e.type === 'link')
              e.target = await this.#gated(c, () => linkTarget(meta, rootReal, d, e.name));
        if (batch.length > 0) yield batch;
      }
    } catch (err) {
      if (c.signal.aborted) throw abortedError(c.signal);
      throw mapFsError(err, 'list', dir);
    } finally {
      // Closing waits for no slot (it must happen, whoever aborted): one thread at most, as a read.
      await handle.close().catch(noop);
      await d.close();
      if (reader.unaddressable > 0) c.unaddressable?.(dir, reader.unaddressable);
    }
  }

  #begin(p: string, c: StorageContext): asserts p is VPath {
    assertVPath(p);
    throwIfAborted(c.signal);
  }

  #assertWritable(op: string, p: VPath): void {
    if (this.#readOnly) throw storageError('permission-denied', op, p);
  }

  /**
   * Runs `call` (an operation's calls, one after another: one pool thread at most) with a slot of
   * the pool's budget when the tree is not all on local filesystems (pool-budget.ts): a frozen
   * mount then holds a bounded part of the pool. A local tree's calls run at once.
   */
  async #gated<T>(c: StorageContext, call: () => Promise<T>): Promise<T> {
    const { remote } = this.#jailNow ?? (await this.#fdJail(c));
    return remote === undefined ? call() : this.#budget.run(remote, c.signal, call);
  }

  /** `call` on the root's path before the jail is open, gated by the mounts that path is on. */
  #rooted<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> {
    const remote = this.#mounts.remoteMount(this.#root);
    return remote === undefined ? call() : this.#budget.run(remote, signal, call);
  }

  /** The jail; `c`: the first caller's, for opening it (its realpath of the root) when not yet open. */
  #fdJail(c?: StorageContext): Promise<FdJail> {
    this.#jail ??= this.#rooted(c?.signal ?? NEVER, () => realpath(this.#root)).then(
      (real) => (this.#jailNow = new FdJail(real, this.#mounts.remoteMount(real))),
      (err: unknown) => {
        this.#jail = undefined; // retry next time: the root may be mounted later
        throw mapFsError(err, 'open', '/');
      },
    );
    return this.#jail;
  }

  /** Real host path of an existing `p`, inside the root by its path (not yet by descriptor). */
  async #resolveExisting(p: VPath, op: string, shown: VPath = p): Promise<string> {
    const { rootReal } = await this.#fdJail();
    const segs = segmentsOf(p);
    if (segs.some(isTempName)) throw storageError('name-not-allowed', op, shown);
    let real: string;
    try {
      real = await (await this.#fdJail()).meta.realpath(join(rootReal, ...segs));
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

  /**
   * The existing object at `p` (links inside the root followed), pinned and verified; where a link
   * led it is checked with `c.denies` (realpath already said where: no extra call for that).
   */
  async #pinExisting(p: VPath, op: string, c: StorageContext): Promise<Pinned> {
    const real = await this.#resolveExisting(p, op);
    await this.#followed(c, p, c.entryItself && c.denies ? await this.#entryPath(p, op) : real, op);
    const obj = await this.#pin(real, op, p);
    if (isServed(obj.st)) return obj;
    await obj.close();
    throw notServed(false, op, p);
  }

  /** The host path of the entry `p` itself: the way to it followed, not a final link. */
  async #entryPath(p: VPath, op: string): Promise<string> {
    if (p === ROOT) return (await this.#fdJail()).rootReal;
    return join(await this.#resolveExisting(parentOf(p), op, p), baseName(p));
  }

  async #pin(real: string, op: string, shown: VPath): Promise<Pinned> {
    try {
      return await (await this.#fdJail()).pin(real, op, shown);
    } catch (err) {
      throw mapFsError(err, op, shown);
    }
  }

  async #pinExistingDir(p: VPath, op: string, c: StorageContext): Promise<Pinned> {
    return dirOnly(await this.#pinExisting(p, op, c), op, p);
  }

  /** The directory `p` is in, pinned, and the host path `p` names through it (links followed). */
  async #pinParent(p: VPath, op: string): Promise<{ dir: Pinned; real: string }> {
    const parent = await this.#resolveExisting(parentOf(p), op, p);
    const dir = await dirOnly(await this.#pin(parent, op, p), op, p);
    return { dir, real: join(parent, baseName(p)) };
  }

  /**
   * Refuses `p` when a link led it to `real`, a path of the root where `c.denies` names what is
   * missing, or when it would replace an entry there (`replacing`) that came after the policy looked.
   */
  async #followed(c: StorageContext, p: VPath, real: string, op: string, replacing?: 'file' | 'dir') {
    if (!c.denies) return;
    const at = toVPath(real, (await this.#fdJail()).rootReal);
    if (at === p && replacing === undefined) return;
    if (!isVPath(at)) throw storageError('permission-denied', op, p);
    const permission = c.denies(at, replacing);
    if (permission !== undefined)
      throw new StorageError('permission-denied', `${op} ${p}: permission denied`, { permission });
  }

  /** Runs `fn` on the entry `p` in its pinned parent; fs errors map to `op` on `p`. */
  async #withEntry(
    p: VPath,
    op: string,
    c: StorageContext,
    creating: boolean,
    fn: (e: Entry) => Promise<void>,
  ): Promise<void> {
    const name = baseName(p);
    if (isTempName(name)) throw storageError(creating ? 'name-not-allowed' : 'not-found', op, p);
    const { dir, real } = await this.#pinParent(p, op);
    try {
      let lst: Stats | undefined;
      try {
        lst = await lstat(dir.child(name));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      // The entry itself is acted on (a link is removed or renamed, not its target).
      const replacing = !creating || !lst ? undefined : lst.isDirectory() ? 'dir' : 'file';
      await this.#followed(c, p, real, op, replacing);
      if (lst && !isServed(lst)) throw notServed(creating, op, p);
      if (lst?.isSymbolicLink()) await this.#checkLink(dir, name, op, p);
      await fn({ dir, name, lst });
    } catch (err) {
      throw mapFsError(err, op, p);
    } finally {
      await dir.close();
    }
  }

  /** Refuses a link leading outside; returns where a link inside leads (undefined: dangling). */
  async #checkLink(dir: Pinned, name: string, op: string, p: VPath): Promise<string | undefined> {
    const { rootReal } = await this.#fdJail();
    let linkReal: string | undefined;
    try {
      linkReal = await realpath(dir.child(name));
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ELOOP') throw err;
    }
    if (linkReal !== undefined && !isInside(linkReal, rootReal)) {
      throw storageError('permission-denied', op, p);
    }
    return linkReal;
  }

  /** Where an upload to `p` goes: its directory and name (through a link inside), and the file there. */
  async #writeTarget(p: VPath, c: StorageContext): Promise<WriteTarget> {
    const name = baseName(p);
    if (isTempName(name)) throw storageError('name-not-allowed', 'write', p);
    const jail = await this.#fdJail();
    let { dir, real } = await this.#pinParent(p, 'write');
    let existing: Pinned | undefined;
    let dangling = false;
    try {
      existing = await jail.pinAt(dir, name, 'write', p);
      let target = name;
      if (existing?.st.isSymbolicLink()) {
        // Writing through a link (verified to stay inside) updates its target.
        await existing.close();
        existing = undefined;
        const linkReal = await this.#checkLink(dir, name, 'write', p);
        if (linkReal === jail.rootReal) throw storageError('is-directory', 'write', p);
        if (linkReal !== undefined) {
          real = linkReal;
          const linkDir = await jail.pinDir(dirname(linkReal), 'write', p);
          await dir.close();
          dir = linkDir;
          target = basename(linkReal);
          existing = await jail.pinAt(dir, target, 'write', p);
          if (existing?.st.isSymbolicLink()) throw storageError('permission-denied', 'write', p); // changed meanwhile
        } else dangling = true; // the new file replaces the link
      }
      if (existing?.st.isDirectory()) throw storageError('is-directory', 'write', p);
      if (existing && !isServed(existing.st)) throw notServed(true, 'write', p);
      await this.#followed(c, p, real, 'write', existing ? 'file' : undefined);
      // Admitted onto no file where replacing one is not allowed (a drop box without `overwrite`):
      // another upload's file that appears meanwhile must survive this one's commit.
      const at = toVPath(real, jail.rootReal);
      const exclusive = !existing && !dangling && isVPath(at) && c.mayReplace?.(at) === false;
      return { dir, name: target, existing, exclusive };
    } catch (err) {
      await existing?.close();
      await dir.close();
      throw mapFsError(err, 'write', p);
    }
  }

  /**
   * Removes stale upload temp files from the (non-empty) directory entry, if nothing else is there:
   * 'empty' then; else what keeps it: entries served, only some that are not listed (the kinds of
   * them), or only the temp files of uploads in progress.
   */
  async #clearStaleTemps(
    e: Entry,
    p: VPath,
  ): Promise<'empty' | 'served' | 'uploading' | ReadonlySet<Unlisted>> {
    const jail = await this.#fdJail();
    const sub = await jail.pinAt(e.dir, e.name, 'rmdir', p);
    if (!sub?.st.isDirectory()) {
      await sub?.close();
      return 'served';
    }
    try {
      const unlisted = new Set<Unlisted>();
      const names: string[] = [];
      for (const raw of await readdir(sub.path, { encoding: 'buffer' })) {
        const n = nameOnDisk(raw);
        if ('unlisted' in n) unlisted.add(n.unlisted);
        else names.push(n.name);
      }
      const others = names.filter((n) => !isTempName(n));
      if (others.length === 0 && unlisted.size === 0)
        return (await removeStaleTemps(sub, names)) === names.length ? 'empty' : 'uploading';
      for (const name of others) {
        const st = await lstat(sub.child(name)).catch(() => undefined); // gone since: not there
        if (st && isServed(st)) return 'served';
        if (st) unlisted.add('special');
      }
      return unlisted;
    } finally {
      await sub.close();
    }
  }
}

/** Where a link in a listing leads, when that is inside the root: a host path must never reach the client. */
async function linkTarget(
  meta: MetaFs,
  rootReal: string,
  dir: Pinned,
  name: string,
): Promise<string | undefined> {
  const target = await meta.realpath(dir.child(name)).catch(() => undefined);
  return target !== undefined && isInside(target, rootReal) ? toVPath(target, rootReal) : undefined;
}

const UPLOAD_INSIDE = 'an upload into it is in progress';

/**
 * A FIFO, socket or device node is not served (listing-stat.ts isServed): missing to every
 * command, as a name that is not there; and nothing created (STOR, MKD, RNTO) replaces it.
 */
function notServed(creating: boolean, op: string, p: VPath): StorageError {
  const why = new Error('not a regular file, directory or link (listing-stat.ts isServed)');
  return storageError(creating ? 'permission-denied' : 'not-found', op, p, why);
}

/** `obj` if it is a directory; else it is closed and not-directory thrown. */
async function dirOnly(obj: Pinned, op: string, p: VPath): Promise<Pinned> {
  if (obj.st.isDirectory()) return obj;
  await obj.close();
  throw storageError('not-directory', op, p);
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  }
}
