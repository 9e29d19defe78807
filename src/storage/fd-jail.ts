// Acting on what was verified: every object LocalStorage touches is first opened as a descriptor
// (O_PATH: no read permission needed, no device or FIFO side effects), then the kernel's view of
// what is open (readlink of /proc/self/fd/N) is checked against the real root. Later steps reach the
// object, or a name inside a verified directory, through the magic link /proc/self/fd/N[/name],
// which the kernel resolves to the opened object even if its path was renamed or replaced by a
// symlink meanwhile (the equivalent of openat/renameat/unlinkat/mkdirat, which Node lacks).
import { constants, readlinkSync, statSync, type Stats } from 'node:fs';
import { relative, sep } from 'node:path';
import { FerryError } from '../errors.js';
import { storageError } from './fs-errors.js';
import { remoteMount } from './local-filesystems.js';
import { MetaFs } from './meta-fs.js';

/** O_PATH (Linux; Node does not export it): a reference to the object, not an opened file. */
const O_PATH = 0o10000000;
const PIN_FLAGS = O_PATH | constants.O_NOFOLLOW;
/**
 * The process's descriptor directory. /proc/PID/fd costs the kernel one lookup less per path than
 * /proc/self/fd (the `self` link), which shows in a listing's 10,000s of lstat calls; it is used
 * only where /proc/self names this very pid (a /proc of another pid namespace would not).
 */
const FD_DIR = fdDirectory();

function fdDirectory(): string {
  try {
    if (readlinkSync('/proc/self') === String(process.pid)) return `/proc/${process.pid}/fd`;
  } catch {
    // no /proc: assertFdPathsAvailable says so
  }
  return '/proc/self/fd';
}

function noop(): void {}

/** Whether this system offers the magic links: checked once, as FD_DIR is chosen once. */
const FD_PATHS = process.platform === 'linux' && isDirectory(FD_DIR);

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Throws unless this system offers /proc/self/fd magic links (Linux with /proc mounted). Without
 * them the check-then-use gap cannot be closed from Node, so LocalStorage refuses to start rather
 * than serve with a weaker jail. (Each session's storage asks: the answer was found at start.)
 */
export function assertFdPathsAvailable(): void {
  if (!FD_PATHS) {
    throw new FerryError(
      'ERR_UNSUPPORTED',
      `LocalStorage needs Linux with /proc mounted (${FD_DIR}) to keep clients inside their root; not available here.`,
    );
  }
}

export function fdPath(fd: number): string {
  return `${FD_DIR}/${fd}`;
}

export function isInside(real: string, rootReal: string): boolean {
  if (real === rootReal) return true;
  return real.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

export function toVPath(real: string, rootReal: string): string {
  const rel = relative(rootReal, real);
  return rel === '' ? '/' : '/' + rel.split(sep).join('/');
}

/** An object opened by descriptor and verified (when opened) to be inside the root. */
export class Pinned {
  constructor(
    readonly fd: number,
    /** fstat of the opened object (a symlink only when pinned with `allowLink`). */
    readonly st: Stats,
    private readonly meta: MetaFs,
  ) {}

  /** The magic link to the object itself. */
  get path(): string {
    return fdPath(this.fd);
  }

  /** `name` inside this directory, whatever its path is by now. `name` has no '/'. */
  child(name: string): string {
    return `${this.path}/${name}`;
  }

  close(): Promise<void> {
    return this.meta.close(this.fd).catch(noop);
  }

  /** Closes it off the event loop: for a file that may have been replaced or removed meanwhile. */
  closeFreeing(): Promise<void> {
    return this.meta.closeFreeing(this.fd).catch(noop);
  }
}

/**
 * Verifies descriptors against the real root of one LocalStorage. Its calls take the synchronous
 * fast path only if the tree under the root lies on local filesystems, judged by the mounts of now.
 */
export class FdJail {
  readonly meta: MetaFs;

  constructor(
    readonly rootReal: string,
    /** The mount its calls count under in the pool's budget (pool-budget.ts); undefined: all local. */
    readonly remote: string | undefined = remoteMount(rootReal),
  ) {
    this.meta = new MetaFs(remote === undefined);
  }

  /** Pins the object at host path `real` (its last component is not followed). */
  pin(real: string, op: string, p: string): Promise<Pinned> {
    return this.#pin(real, op, p, false);
  }

  /** Pins `name` in directory `dir` without following it; undefined if it does not exist. */
  async pinAt(dir: Pinned, name: string, op: string, p: string): Promise<Pinned | undefined> {
    try {
      return await this.#pin(dir.child(name), op, p, true);
    } catch (err) {
      if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Pins a directory (refuses anything else with not-directory). */
  async pinDir(real: string, op: string, p: string): Promise<Pinned> {
    const d = await this.pin(real, op, p);
    if (!d.st.isDirectory()) {
      await d.close();
      throw storageError('not-directory', op, p);
    }
    return d;
  }

  /** Re-checks where an opened object is now (before a rename or create through it). */
  async verify(fd: number, op: string, p: string): Promise<void> {
    let now: string;
    try {
      now = await this.meta.readlink(fdPath(fd));
    } catch (err) {
      throw storageError('transient', op, p, err);
    }
    if (!isInside(now, this.rootReal)) throw storageError('permission-denied', op, p);
  }

  async #pin(path: string, op: string, p: string, allowLink: boolean): Promise<Pinned> {
    const fd = await this.meta.open(path, PIN_FLAGS);
    try {
      await this.verify(fd, op, p);
      const st = await this.meta.fstat(fd);
      // A symlink here means the real path changed under us after realpath: refuse, never follow.
      if (st.isSymbolicLink() && !allowLink) throw storageError('permission-denied', op, p);
      return new Pinned(fd, st, this.meta);
    } catch (err) {
      await this.meta.close(fd).catch(noop);
      throw err;
    }
  }
}
