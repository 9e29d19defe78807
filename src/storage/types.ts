import type { Readable } from 'node:stream';

/**
 * A download's byte stream; `fileSize`: the whole file's size when the backend knew it at open;
 * `whole`: every byte the stream holds, when the backend read them at once (a small file), which a
 * sender may write in one go instead of streaming them.
 */
export type FileSource = Readable & { readonly fileSize?: number; readonly whole?: Buffer };

export { StorageError, type StorageErrorKind } from '../errors.js';
import { StorageError } from '../errors.js';

/** Not there: the path, or a directory on the way to it, does not exist (or is not a directory). */
export function isAbsent(err: unknown): boolean {
  return err instanceof StorageError && (err.kind === 'not-found' || err.kind === 'not-directory');
}

/** Absolute, normalized, '/'-separated virtual path (`/`, `/a/b`). Only virtual-path.ts mints them. */
export type VPath = string & { readonly __brand: 'VPath' };

export interface FileStat {
  name: string;
  path: VPath;
  type: 'file' | 'dir' | 'link';
  size: number;
  modified: Date;
  /** Permission bits only, e.g. 0o644. */
  mode: number;
  /** Stable identity of the underlying object (MLSx `unique` fact), when the backend knows one. */
  id?: string;
  /** For links: the virtual path they resolve to, when it is inside the storage (never a host path). */
  target?: string;
  /**
   * A virtual folder is mounted here or below (storage/mounts.ts): the entry is a directory that
   * cannot be removed, renamed or replaced.
   */
  mount?: boolean;
  /**
   * Exists only on the way to a virtual folder (no directory of that name in the storage below):
   * it can be entered and listed, and nothing else can be created in it.
   */
  virtual?: boolean;
  /**
   * A directory whose name is also a file (S3: the keys `a/b` and `a/b/…`, put by another S3
   * client): the entry is the directory (listings, CWD, MLST); this is the file object of the same
   * name, which RETR, SIZE, HASH and DELE of that exact path reach (see fileOf).
   */
  hiddenFile?: { size: number; modified: Date; id?: string };
  /**
   * What the server's own account may do with the entry, as rwx bits (4 read, 2 write, 1 enter or
   * execute), where the storage knows it (LocalStorage's stat when the server is not root);
   * absent: not known, nothing is refused for it. CWD refuses a directory without 1; MLST's perm
   * leaves out what it forbids.
   */
  access?: number;
}

/** What a file read (RETR, SIZE, HASH) reads at `st`: the file, a directory's hidden file, or nothing. */
export function fileOf(st: FileStat): FileStat | undefined {
  if (st.type !== 'dir') return st;
  const f = st.hiddenFile;
  if (!f) return undefined;
  const { hiddenFile: _hidden, id: _id, ...rest } = st;
  return {
    ...rest,
    type: 'file',
    size: f.size,
    modified: f.modified,
    mode: 0o644,
    ...(f.id ? { id: f.id } : {}),
  };
}

/**
 * An upload whose target was checked and is held until its bytes come (StorageBackend.prepareWrite).
 */
export interface PreparedWrite {
  /** As StorageBackend.write, to the target checked. At most once. */
  write(src: Readable, c: StorageContext): Promise<{ bytes: number }>;
  /** Lets go of what the preparation holds when write() is not to be called; idempotent, a no-op once write() was. */
  release(): Promise<void>;
}

export interface StorageContext {
  readonly sessionId: string;
  /** Aborts on ABOR or disconnect; long operations stop and reject with ERR_ABORTED. */
  readonly signal: AbortSignal;
  /**
   * Asked before acting on an object whose path led through a symbolic link to another path of the
   * storage (`resolved`; for a creation, its resolved directory and new name): the permission
   * missing there, which refuses with a permission-denied error naming it (undefined: go on).
   * `replacing`: what the operation would replace there (write, rename target). A backend without
   * links never asks; one that knows the resolved path asks only when it differs.
   */
  readonly denies?: (resolved: VPath, replacing?: 'file' | 'dir') => string | undefined;
  /**
   * Whether a write begun onto no file may replace one that appears at `resolved` before its commit
   * (another upload's): false where replacing a file is not allowed (a drop box without
   * `overwrite`), and the write then commits only if the name is still free. Absent: it may.
   */
  readonly mayReplace?: (resolved: VPath) => boolean;
  /**
   * stat acts for a command on the entry itself (RNFR, the entry RNTO replaces): as rename(2) acts
   * on a link, not on its target, a final link is not followed for `denies`, only the way to it.
   */
  readonly entryItself?: boolean;
  /**
   * Told of each entry a listing leaves out because its path would be longer than a virtual path
   * may be (4096 characters): the session logs it, a quota scan counts what it could not.
   */
  readonly tooLong?: (dir: VPath, name: string) => void;
  /**
   * Told once a listing of `dir` is over (or cut) how many of its names it left out because no
   * client could address them (not valid UTF-8, a control character, a backslash).
   */
  readonly unaddressable?: (dir: VPath, count: number) => void;
  /**
   * Told when a failed upload to `p` could not remove its temp file `temp` (a hidden name in the
   * same directory; `errno` why: its directory no longer writable). The storage removes it later.
   */
  readonly tempLeft?: (p: VPath, temp: string, errno: string) => void;
  /** Told of a directory a quota scan could not read (`reason`), and so did not count. */
  readonly unreadable?: (dir: VPath, reason: string) => void;
  /**
   * Told of each step of a call that can take long (an S3 rename: each object copied; a listing:
   * each page, also one with nothing to list; an upload: each write taken, which those waiting
   * for its target hear of too): the command time limit (timeouts.commandMs) then cuts only a call
   * that stopped moving.
   */
  readonly progress?: () => void;
  /**
   * A listing for a caller that shows names only (NLST): a storage may skip what costs a call per
   * entry (LocalStorage: the lstat, where readdir gives the type) and give size 0, the epoch and
   * mode 0; the entries and their types are the same.
   */
  readonly namesOnly?: boolean;
}

/** `size-at-open`: openRead fails on a directory and gives `fileSize` at once (RETR then needs no stat first). */
export type StorageFeature =
  'restart-read' | 'restart-write' | 'append' | 'set-modified' | 'chmod' | 'size-at-open';

/**
 * A file tree a session works in. Failures reject with StorageError (kind decides the reply),
 * or FerryError('ERR_ABORTED') when `c.signal` fired; messages never contain host paths.
 */
export interface StorageBackend {
  readonly features: ReadonlySet<StorageFeature>;
  /** Follows links that stay inside the storage. */
  stat(p: VPath, c: StorageContext): Promise<FileStat>;
  /**
   * Streams the entries in batches (never empty; links are reported as 'link'), in the backend's
   * order: a batch per step spares the callers a promise per entry, and memory stays bounded by the
   * batch, however large the directory. Errors such as not-found surface on the first iteration.
   */
  list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]>;
  /**
   * The file's bytes from `offset`. A backend that learns the file's size while opening it says so
   * in `fileSize` (a RETR then needs no separate stat, i.e. no second path resolution).
   */
  openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource>;
  /**
   * Atomic: the previous content stays until `src` ends successfully and the bytes are durable.
   * `offset` > 0 keeps the first `offset` bytes (beyond the end: refused, 'beyond-end'); `append`
   * keeps them all.
   * If it rejects before reading, `src` is left as is (the caller destroys it).
   */
  write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }>;
  /**
   * Checks an upload's target before any of its bytes exist: rejects as write() would for the target
   * alone (parent directory missing, a directory there, a link leading out, a name not allowed,
   * read-only, REST to a missing file or beyond its end), changing nothing, and holds what it found
   * for the write.
   * The server calls it before its 150, so that a refusal needs no data connection. Optional: without
   * it the target is checked only once the data flows (the reply then follows the 150).
   */
  prepareWrite?(p: VPath, o: { offset: number; append: boolean }, c: StorageContext): Promise<PreparedWrite>;
  mkdir(p: VPath, c: StorageContext): Promise<void>;
  remove(p: VPath, c: StorageContext): Promise<void>;
  removeDir(p: VPath, c: StorageContext): Promise<void>;
  /**
   * Replaces an existing file with a file, an empty directory with a directory (as rename(2); a
   * directory that is not empty: not-empty); never a file with a directory or the other way round.
   */
  rename(from: VPath, to: VPath, c: StorageContext): Promise<void>;
  setModified?(p: VPath, date: Date, c: StorageContext): Promise<void>;
  chmod?(p: VPath, mode: number, c: StorageContext): Promise<void>;
  /** A name not currently used in `dir` (for STOU). */
  uniqueName?(dir: VPath, c: StorageContext): Promise<VPath>;
  /**
   * Asked once at login, before the 230: rejects (a StorageError) when the tree cannot be used at
   * all, and the login is refused (LocalStorage: its root is missing or not a directory; a session
   * there would get 550 for everything). Optional: a backend whose `/` always exists has none.
   */
  checkRoot?(c: StorageContext): Promise<void>;
}
