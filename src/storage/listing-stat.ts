import { constants, lstat as lstatCb, lstatSync, statfsSync, type Dir, type Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import type { Pinned } from './fd-jail.js';
import type { PoolGate } from './pool-budget.js';
import type { FileStat, VPath } from './types.js';
import { isTempName } from './upload-temp.js';
import { childPathsOf, isAllowedName } from './virtual-path.js';
import { insideDirectory } from './working-directory.js';

/** A call slower than this counts as slow (cold cache, or preempted). */
const SLOW_CALL_MS = 1;
/**
 * Slow calls in one batch that move the listing to the thread pool. More than one: on a busy
 * machine a fast call is sometimes preempted mid-way, while a cold or remote filesystem makes
 * most calls slow.
 */
const SLOW_CALLS = 8;
const NO_THROW = { throwIfNoEntry: false } as const;
/** The longest a listing keeps the event loop before giving it a turn. */
const TURN_MS = 2;

/**
 * Filesystems whose directories' st_size counts bytes of entries (ext2-4, XFS, btrfs, tmpfs), so that
 * it bounds how many names a directory holds; ZFS's counts entries, others' may say nothing.
 */
const SIZE_IN_BYTES: ReadonlySet<number> = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994]);

function sizeCountsBytes(dir: string): boolean {
  try {
    return SIZE_IN_BYTES.has(statfsSync(dir).type);
  } catch {
    return false;
  }
}

/** What a listing needs of an lstat (fs.Stats has it). */
export interface StatLike {
  readonly mode: number;
  readonly size: number;
  readonly mtime: Date;
  readonly dev: number;
  readonly ino: number;
}

/** What a names-only listing gives for an entry of a kind readdir told: only its type is true. */
const typeOnly = (fmt: number): StatLike => ({ mode: fmt, size: 0, mtime: new Date(0), dev: 0, ino: 0 });
const [FILE, DIR, LINK, OTHER] = [
  constants.S_IFREG,
  constants.S_IFDIR,
  constants.S_IFLNK,
  constants.S_IFIFO,
].map(typeOnly);

/** The entry's type as readdir gave it, as a StatLike; undefined where the filesystem did not say. */
function typeOf(e: Dirent): StatLike | undefined {
  if (e.isFile()) return FILE;
  if (e.isDirectory()) return DIR;
  if (e.isSymbolicLink()) return LINK;
  // Not served (isServed), whichever of these it is.
  if (e.isFIFO() || e.isSocket() || e.isBlockDevice() || e.isCharacterDevice()) return OTHER;
  return undefined;
}

export function isLink(st: StatLike): boolean {
  return (st.mode & constants.S_IFMT) === constants.S_IFLNK;
}

/**
 * A regular file, a directory or a symbolic link: what Ferry serves. A FIFO, socket or device node
 * can be neither downloaded nor stored over: listed as a file (0 bytes), a mirror would fetch it and
 * fail, a quota would count it; they are left out as vsftpd leaves out what it cannot open.
 */
export function isServed(st: StatLike): boolean {
  const fmt = st.mode & constants.S_IFMT;
  return fmt === constants.S_IFREG || fmt === constants.S_IFDIR || fmt === constants.S_IFLNK;
}

/** `devHex`: st.dev in hex, when the caller has it already (a listing: one device for all). */
export function toFileStat(name: string, path: VPath, st: StatLike, devHex = st.dev.toString(16)): FileStat {
  const fmt = st.mode & constants.S_IFMT;
  return {
    name,
    path,
    type: fmt === constants.S_IFDIR ? 'dir' : fmt === constants.S_IFLNK ? 'link' : 'file',
    size: st.size,
    // fs.Stats made this Date already; a second one per entry would only be garbage.
    modified: st.mtime,
    mode: st.mode & 0o7777,
    id: `${devHex}g${st.ino.toString(16)}`,
  };
}

export interface ListingReaderOptions {
  /** Entries per batch (in flight at once when the thread pool is used). */
  batchSize: number;
  /** Whether batches may be read synchronously at all (MetaFs.synchronous: local filesystems only). */
  synchronous: boolean;
  /** What counts as a slow call (tests pass -1: the thread pool from the second batch on). */
  slowMs?: number;
  /** A synchronous batch lstat's from inside the directory (working-directory.ts): only where safe. */
  borrowWorkingDirectory?: boolean;
  /**
   * Names only (StorageContext.namesOnly): only the entries whose type readdir did not give
   * (DT_UNKNOWN) are lstat'ed; the lstat calls are most of a listing's CPU (and on a network
   * filesystem a round trip each).
   */
  namesOnly?: boolean;
  /**
   * A directory whose st_size is at most this has its names read in one call (one thread-pool round
   * trip) instead of through the Dir, which makes a Dirent of each (a tenth of a cached listing's
   * CPU); libuv hands them sorted by bytes, the order a sorted LIST wants (its sort then finds runs).
   * Only for synchronous listings, not names-only ones (they take readdir's types), on filesystems
   * whose st_size counts bytes (SIZE_IN_BYTES): it bounds what the names hold. Default 0: never.
   */
  wholeDirectoryBytes?: number;
  /** Told of an entry left out because its path would be too long (StorageContext.tooLong). */
  tooLong?: (name: string) => void;
  /**
   * Runs each call into the thread pool once it may (pool-budget.ts: a tree not all local), so that
   * a batch's lstat calls never take more threads than the budget allows. Default: at once.
   */
  gate?: PoolGate;
}

function atOnce<T>(call: () => Promise<T>): Promise<T> {
  return call();
}

/**
 * Reads one directory for a listing, a batch of entries at a time, as Pure-FTPd and vsftpd do it:
 * readdir and lstat synchronously while a local filesystem answers fast (a thread-pool round trip
 * and a promise per entry cost more than the cached call itself), giving the event loop a turn
 * between batches that took a while; once calls are slow (cold cache), the rest of the listing goes
 * through the thread pool so other sessions never wait. A tree that is not all on local filesystems
 * is read through the thread pool from the start (a hung call there would freeze the process). Names a client could not
 * address, entries whose paths would be too long and temp uploads are left out. The entries' own links are not followed.
 */
export class ListingReader {
  #sync: boolean;
  #done = false;
  #turn = performance.now();
  readonly #devHex: string;
  /** The magic link to the directory, with a trailing '/': an entry's path is this + its name. */
  readonly #prefix: string;
  readonly #childPath: (name: string) => VPath | undefined;
  readonly #batchSize: number;
  readonly #slowMs: number;
  readonly #borrow: boolean;
  readonly #namesOnly: boolean;
  readonly #tooLong: ((name: string) => void) | undefined;
  readonly #gate: PoolGate;
  /** Names left out that no client could address (not UTF-8, a control character): the log says how many. */
  #unaddressable = 0;
  /** The directory's names when read in one call (wholeDirectoryBytes), and the next one's index. */
  #names: string[] | undefined;
  #at = 0;
  readonly #whole: boolean;

  constructor(
    dir: Pinned,
    private readonly handle: Dir,
    /** The listed directory's virtual path, for the entries' paths. */
    path: VPath,
    options: ListingReaderOptions,
  ) {
    this.#devHex = dir.st.dev.toString(16);
    this.#prefix = dir.child('');
    this.#childPath = childPathsOf(path);
    this.#batchSize = options.batchSize;
    this.#sync = options.synchronous;
    this.#slowMs = options.slowMs ?? SLOW_CALL_MS;
    this.#borrow = options.borrowWorkingDirectory ?? false;
    this.#namesOnly = options.namesOnly ?? false;
    this.#tooLong = options.tooLong;
    this.#gate = options.gate ?? atOnce;
    this.#whole =
      this.#sync &&
      !this.#namesOnly &&
      dir.st.size <= (options.wholeDirectoryBytes ?? 0) &&
      sizeCountsBytes(this.#prefix);
  }

  /** How many names were left out so far because no client could address them (not temp uploads). */
  get unaddressable(): number {
    return this.#unaddressable;
  }

  /** The next entries (possibly none, where all were hidden or vanished); undefined at the end. */
  async next(): Promise<FileStat[] | undefined> {
    if (this.#done) return undefined;
    const out: FileStat[] = [];
    if (this.#whole && this.#names === undefined) this.#names = await this.#gate(() => readdir(this.#prefix));
    if (this.#sync) {
      if (this.#borrow) insideDirectory(this.#prefix, (prefix) => this.#readSync(out, prefix));
      else this.#readSync(out, this.#prefix);
    } else {
      const entries = this.#names ? this.#namesAsEntries() : await this.#entriesAsync();
      const stats = await Promise.all(
        entries.map((e) => this.#known(e) ?? this.#gate(() => this.#lstatAsync(e.name))),
      );
      for (const [i, e] of entries.entries()) this.#add(out, e.name, stats[i]);
    }
    const now = performance.now();
    if (now - this.#turn > TURN_MS) {
      await setImmediate();
      this.#turn = performance.now();
    }
    return out;
  }

  #add(out: FileStat[], name: string, st: StatLike | undefined): void {
    if (st === undefined) {
      // A name that is not UTF-8 comes decoded with U+FFFD, which names nothing on disk.
      if (name.includes('\uFFFD')) this.#unaddressable++;
      return; // else removed since readdir
    }
    if (!isServed(st)) return; // not a file (isServed)
    const path = this.#childPath(name);
    if (path === undefined) this.#tooLong?.(name);
    else out.push(toFileStat(name, path, st, this.#devHex));
  }

  /**
   * A batch read synchronously: each name, then its lstat, in one pass (one clock read per entry:
   * the readdir, served from the Dir's buffer mostly, and the lstat are timed as one call; the
   * loop between them costs microseconds). Moves the rest of the listing to the thread pool once
   * SLOW_CALLS of the batch were slow. `prefix` names an entry (the magic link, or '' from inside).
   */
  #readSync(out: FileStat[], prefix: string): void {
    let slow = 0;
    let before = performance.now();
    const names = this.#names;
    for (let n = 0; n < this.#batchSize;) {
      // From the names read, or the Dir's buffer, or one readdir call that refills it.
      const e = names ? names[this.#at++] : this.handle.readSync();
      if (e === null || e === undefined) {
        this.#done = true;
        break;
      }
      const name = typeof e === 'string' ? e : e.name;
      if (this.#listable(name)) {
        n++;
        const known = typeof e === 'string' ? undefined : this.#known(e);
        this.#add(out, name, known ?? lstatSync(prefix + name, NO_THROW));
      }
      const after = performance.now();
      if (after - before > this.#slowMs) slow++;
      before = after;
    }
    if (slow >= SLOW_CALLS) this.#sync = false;
  }

  /** The next batch of the names read (wholeDirectoryBytes), as the Dir would give them. */
  #namesAsEntries(): { readonly name: string }[] {
    const names = this.#names ?? [];
    const entries: { readonly name: string }[] = [];
    while (entries.length < this.#batchSize && this.#at < names.length) {
      const name = names[this.#at++] ?? '';
      if (this.#listable(name)) entries.push({ name });
    }
    if (this.#at >= names.length) this.#done = true;
    return entries;
  }

  async #entriesAsync(): Promise<Dirent[]> {
    const entries: Dirent[] = [];
    while (entries.length < this.#batchSize) {
      const e = await this.#gate(() => this.handle.read());
      if (e === null) {
        this.#done = true;
        break;
      }
      if (this.#listable(e.name)) entries.push(e);
    }
    return entries;
  }

  /**
   * What a names-only listing needs of `e` without an lstat (its type, from readdir), else undefined.
   * A name that is not UTF-8 (decoded with U+FFFD) is looked up all the same: it names nothing (#add).
   */
  #known(e: Dirent | { readonly name: string }): StatLike | undefined {
    return this.#namesOnly && 'isFile' in e && !e.name.includes('\uFFFD') ? typeOf(e) : undefined;
  }

  /**
   * Temp uploads are hidden; names a client could not address (e.g. with '\n') would garble listings.
   * Never '.', '..' or a name with '/': a name is looked up relative to its directory as one component.
   */
  #listable(name: string): boolean {
    if (isTempName(name)) return false;
    if (isAllowedName(name)) return true;
    this.#unaddressable++;
    return false;
  }

  /** lstat through the callback API: a listing makes 10,000s of these, and it costs less per call. */
  #lstatAsync(name: string): Promise<StatLike | undefined> {
    return new Promise((resolve, reject) => {
      lstatCb(this.#prefix + name, (err, st) => {
        if (err === null) resolve(st);
        else if (err.code === 'ENOENT') resolve(undefined);
        else reject(err);
      });
    });
  }
}
