// Virtual folders: one user's tree made of several storages, each mounted at a virtual path (the
// home at `/`). Each path belongs to the longest mount covering it; the mount layout itself (a
// folder's mount point and the directories above it) cannot be removed, renamed or replaced, and a
// rename never crosses from one storage into another.
import { StorageError } from '../errors.js';
import type { Readable } from 'node:stream';
import { prepareWrite } from './prepared-write.js';
import type {
  FileSource,
  FileStat,
  PreparedWrite,
  StorageBackend,
  StorageContext,
  StorageFeature,
  VPath,
} from './types.js';
import { isAbsent } from './types.js';
import { ROOT, assertVPath, baseName, fitsVPath, isDescendant, joinVPath, parentOf } from './virtual-path.js';

/** A storage shown at `at` in the user's tree. */
export interface Folder {
  at: string;
  storage: StorageBackend;
}

interface Mount {
  at: VPath;
  storage: StorageBackend;
}

/** `home` alone when there are no folders, else the tree of home and folders. */
export function withFolders(home: StorageBackend, folders: readonly Folder[]): StorageBackend {
  return folders.length === 0 ? home : new MountedStorage(home, folders);
}

const FEATURES: readonly StorageFeature[] = [
  'restart-read',
  'restart-write',
  'append',
  'set-modified',
  'chmod',
  'size-at-open',
];

const fixedError = (p: VPath, point: boolean): StorageError =>
  new StorageError(
    'mount-point',
    point
      ? `${p} is a virtual folder: it cannot be removed, renamed or replaced.`
      : `${p} holds a virtual folder: it cannot be removed, renamed or replaced.`,
  );

export class MountedStorage implements StorageBackend {
  /** What every storage of the tree can do (FEAT must hold wherever the client goes). */
  readonly features: ReadonlySet<StorageFeature>;
  readonly setModified?: NonNullable<StorageBackend['setModified']>;
  readonly chmod?: NonNullable<StorageBackend['chmod']>;
  readonly uniqueName?: NonNullable<StorageBackend['uniqueName']>;
  /** The home's: a virtual folder whose root is missing fails only under it. */
  readonly checkRoot?: NonNullable<StorageBackend['checkRoot']>;
  /** Longest mount path first, the home (`/`) last. */
  readonly #mounts: Mount[];
  /** Each directory on the way to a mount point → the names of such entries directly in it. */
  readonly #layout = new Map<VPath, Set<string>>();
  /** Shown as the time of directories that exist only on the way to a folder. */
  readonly #born = new Date();

  constructor(home: StorageBackend, folders: readonly Folder[]) {
    const mounts: Mount[] = [{ at: ROOT, storage: home }];
    if (home.checkRoot) this.checkRoot = home.checkRoot.bind(home);
    for (const f of folders) {
      assertVPath(f.at);
      if (f.at === ROOT)
        throw new StorageError('mount-point', 'A folder cannot be mounted at /: that is the home.');
      if (mounts.some((m) => m.at === f.at)) throw new StorageError('mount-point', `Two folders at ${f.at}.`);
      mounts.push({ at: f.at, storage: f.storage });
      for (let p = f.at; p !== ROOT; p = parentOf(p)) {
        const names = this.#layout.get(parentOf(p)) ?? new Set<string>();
        names.add(baseName(p));
        this.#layout.set(parentOf(p), names);
      }
    }
    this.#mounts = mounts.sort((a, b) => b.at.length - a.at.length);
    const all = mounts.map((m) => m.storage);
    this.features = new Set(FEATURES.filter((f) => all.every((s) => s.features.has(f))));
    if (all.some((s) => s.setModified)) {
      this.setModified = async (p, date, c) => {
        const { storage, inner, at } = this.#changing(p);
        return needs(storage.setModified, 'MFMT').call(storage, inner, date, inside(at, c));
      };
    }
    if (all.some((s) => s.chmod)) {
      this.chmod = async (p, mode, c) => {
        const { storage, inner, at } = this.#changing(p);
        return needs(storage.chmod, 'SITE CHMOD').call(storage, inner, mode, inside(at, c));
      };
    }
    if (all.some((s) => s.uniqueName)) {
      this.uniqueName = async (dir, c) => {
        const m = this.#route(dir);
        const inner = await needs(m.storage.uniqueName, 'STOU').call(m.storage, m.inner, inside(m.at, c));
        const p = this.#outer(m, inner);
        if (this.#fixed(p)) throw fixedError(p, this.#isMountPoint(p));
        return p;
      };
    }
  }

  async stat(p: VPath, c: StorageContext): Promise<FileStat> {
    const m = this.#route(p);
    if (!this.#fixed(p)) return this.#mapped(m, await m.storage.stat(m.inner, inside(m.at, c)));
    let st: FileStat | undefined;
    try {
      st = await m.storage.stat(m.inner, inside(m.at, c));
    } catch (err) {
      // A directory on the way to a folder need not exist in the storage below it.
      if (this.#isMountPoint(p) || !isAbsent(err)) throw err;
    }
    if (st?.type !== 'dir') return this.#virtualDir(p);
    return { ...this.#mapped(m, st), name: baseName(p), path: p, mount: true };
  }

  list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    return this.#list(dir, c);
  }

  openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<FileSource> {
    if (this.#fixed(p)) return Promise.reject(new StorageError('is-directory', `${p}: is a directory`));
    const m = this.#route(p);
    return m.storage.openRead(m.inner, o, inside(m.at, c));
  }

  async write(
    p: VPath,
    src: Readable,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<{ bytes: number }> {
    const { storage, inner, at } = this.#changing(p);
    return storage.write(inner, src, o, inside(at, c));
  }

  async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    const { storage, inner, at } = this.#changing(p);
    const prepared = await prepareWrite(storage, inner, o, inside(at, c));
    // The write's own context too: what it reports (a temp file left) names the user's path.
    return { write: (src, c2) => prepared.write(src, inside(at, c2)), release: () => prepared.release() };
  }

  async mkdir(p: VPath, c: StorageContext): Promise<void> {
    const { storage, inner, at } = this.#changing(p);
    await storage.mkdir(inner, inside(at, c));
  }

  async remove(p: VPath, c: StorageContext): Promise<void> {
    const { storage, inner, at } = this.#changing(p);
    await storage.remove(inner, inside(at, c));
  }

  async removeDir(p: VPath, c: StorageContext): Promise<void> {
    const { storage, inner, at } = this.#changing(p);
    await storage.removeDir(inner, inside(at, c));
  }

  async rename(from: VPath, to: VPath, c: StorageContext): Promise<void> {
    const a = this.#changing(from);
    const b = this.#changing(to);
    if (a.at !== b.at) {
      throw new StorageError(
        'cross-folder',
        `Cannot rename across virtual folders (${where(a.at)} to ${where(b.at)}): copy, then delete.`,
      );
    }
    await a.storage.rename(a.inner, b.inner, inside(a.at, c));
  }

  async *#list(dir: VPath, c: StorageContext): AsyncGenerator<readonly FileStat[]> {
    const m = this.#route(dir);
    const shown = this.#layout.get(dir);
    if (!shown) {
      for await (const batch of m.storage.list(m.inner, inside(m.at, c))) {
        const kept = m.at === ROOT ? batch : this.#listed(m, dir, batch, c);
        if (kept.length > 0) yield kept;
        else c.progress?.(); // still moving, for the command time limit
      }
      return;
    }
    try {
      // Entries of the storage below that a folder hides are left out; the folders come after.
      for await (const batch of m.storage.list(m.inner, inside(m.at, c))) {
        const kept = this.#listed(m, dir, batch, c, shown);
        if (kept.length > 0) yield kept;
        else c.progress?.();
      }
    } catch (err) {
      if (this.#isMountPoint(dir) || !isAbsent(err)) throw err;
    }
    const folders: FileStat[] = [];
    for (const name of [...shown].sort()) {
      const p = joinVPath(dir, name);
      // A folder whose storage fails is still listed, so that the rest of the listing is not lost.
      folders.push(await this.stat(p, c).catch(() => this.#virtualDir(p)));
    }
    if (folders.length > 0) yield folders;
  }

  /** The mount `p` is in, and `p` as that storage names it. */
  #route(p: VPath): Mount & { inner: VPath } {
    assertVPath(p);
    for (const m of this.#mounts) {
      if (m.at === ROOT) return { ...m, inner: p };
      if (p === m.at) return { ...m, inner: ROOT };
      if (isDescendant(p, m.at)) return { ...m, inner: p.slice(m.at.length) as VPath };
    }
    throw new StorageError('not-found', `${p}: no such file or directory`); // unreachable: `/` covers all
  }

  /** Like #route, for a change: the mount layout itself is refused. */
  #changing(p: VPath): Mount & { inner: VPath } {
    if (this.#fixed(p)) throw fixedError(p, this.#isMountPoint(p));
    return this.#route(p);
  }

  #outer(m: Mount, inner: VPath): VPath {
    return outer(m.at, inner);
  }

  #mapped(m: Mount, st: FileStat): FileStat {
    if (m.at === ROOT) return st;
    const out: FileStat = { ...st, path: this.#outer(m, st.path) };
    if (st.target !== undefined) out.target = this.#outer(m, st.target as VPath);
    return out;
  }

  /**
   * A listing's entries as the user's tree names them, less those `hidden` (by a folder) and those
   * whose path there would be too long (the folder's own storage names them by shorter paths): left
   * out, as every listing does.
   */
  #listed(
    m: Mount,
    dir: VPath,
    batch: readonly FileStat[],
    c: StorageContext,
    hidden?: ReadonlySet<string>,
  ): FileStat[] {
    const kept: FileStat[] = [];
    for (const e of batch) {
      if (hidden?.has(e.name)) continue;
      const out = this.#mapped(m, e);
      if (fitsVPath(out.path)) kept.push(out);
      else c.tooLong?.(dir, e.name);
    }
    return kept;
  }

  #isMountPoint(p: VPath): boolean {
    return p !== ROOT && this.#mounts.some((m) => m.at === p);
  }

  /** A mount point, or a directory with one below it (`/` excepted: it is never changed anyway). */
  #fixed(p: VPath): boolean {
    return p !== ROOT && (this.#layout.has(p) || this.#isMountPoint(p));
  }

  #virtualDir(p: VPath): FileStat {
    return {
      name: baseName(p),
      path: p,
      type: 'dir',
      size: 0,
      modified: this.#born,
      mode: 0o755,
      mount: true,
      virtual: true,
    };
  }
}

/**
 * The context for the storage mounted at `at`: where a link there led is asked about, and a
 * listing's entry left out is told, as the user's tree names it (a link in a folder stays inside
 * that folder).
 */
function inside(at: VPath, c: StorageContext): StorageContext {
  const { denies, mayReplace, tooLong, tempLeft, unaddressable } = c;
  if (at === ROOT || (!denies && !mayReplace && !tooLong && !tempLeft && !unaddressable)) return c;
  return {
    ...c,
    ...(denies && { denies: (resolved, replacing) => denies(outer(at, resolved), replacing) }),
    ...(mayReplace && { mayReplace: (resolved) => mayReplace(outer(at, resolved)) }),
    ...(tooLong && { tooLong: (dir, name) => tooLong(outer(at, dir), name) }),
    ...(tempLeft && { tempLeft: (p, temp, errno) => tempLeft(outer(at, p), temp, errno) }),
    ...(unaddressable && { unaddressable: (dir, count) => unaddressable(outer(at, dir), count) }),
  };
}

function outer(at: VPath, inner: VPath): VPath {
  if (at === ROOT) return inner;
  return (inner === ROOT ? at : `${at}${inner}`) as VPath;
}

const where = (at: VPath): string => (at === ROOT ? 'the home' : at);

/** An optional operation of the storage a path is in; unsupported when that one lacks it. */
function needs<F>(op: F | undefined, what: string): F {
  if (op === undefined) throw new StorageError('unsupported', `${what} not supported in this folder.`);
  return op;
}
