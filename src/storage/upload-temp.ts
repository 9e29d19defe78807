// Upload temp files: their names, and removing the ones no upload will ever finish (a crash or
// kill -9 leaves them behind). A temp file is never shown, counted or addressable by clients.
import { createHash, randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lstat, readdir, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { FdJail, type Pinned } from './fd-jail.js';
import { errnoCode } from './fs-errors.js';

const TEMP_PREFIX = '.ferry-upload-';
const TEMP_SUFFIX = '.tmp';
/** host tag, pid, random: which machine and process the upload belongs to. */
const TEMP_NAME = /^\.ferry-upload-([0-9a-f]{8})-([0-9]+)-[0-9a-f]+\.tmp$/;
/** A commit takes microseconds; a commit lock this old was left by a process that died in one. */
export const STALE_LOCK_MS = 30_000;
/** A commit lock (target-guard.ts): named like a temp file, with no host or pid but the target's hash. */
export const COMMIT_LOCK_PREFIX = '.ferry-upload-commit-';
const COMMIT_LOCK_NAME = /^\.ferry-upload-commit-[0-9a-f]{24}\.tmp$/;
/** Temp files of another host (a shared network tree) are left alone: we cannot tell if they are live. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
}

export function newTempName(): string {
  return `${TEMP_PREFIX}${HOST_TAG}-${process.pid}-${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`;
}

/**
 * Removes the temp file only if the name still holds what this upload created. Resolves with the
 * errno when it is left behind (its directory no longer writable: EACCES, EROFS): it is then
 * remembered in `temps`, and removed once an upload in that directory ends (LeftTemps.removeIn).
 */
export async function unlinkIfSame(
  path: string,
  fh: FileHandle,
  temps: LeftTemps,
): Promise<string | undefined> {
  let mine: Stats;
  try {
    const [now, st] = await Promise.all([lstat(path), fh.stat()]);
    if (now.ino !== st.ino || now.dev !== st.dev) return undefined; // not ours any more
    mine = st;
  } catch {
    return undefined; // already gone
  }
  try {
    await unlink(path);
    return undefined;
  } catch (err) {
    const code = errnoCode(err) ?? 'unknown';
    if (code === 'ENOENT') return undefined;
    if ((code === 'EACCES' || code === 'EPERM') && (await unlinkInOwnDir(path))) return undefined;
    await temps.remember(path, mine);
    return code;
  }
}

/**
 * Removes `path` from a directory this process owns but that is not writable (a client's SITE CHMOD
 * 555 while its upload ran): u+w for the unlink, then the mode back. Otherwise the temp would stay,
 * uncounted by the quota, so a user could pile them up past it. A directory of another owner (made
 * read-only by the admin) is left alone. Resolves true when the file is gone.
 */
async function unlinkInOwnDir(path: string): Promise<boolean> {
  // dirname: the directory's magic link (/proc/self/fd/N), followed by chmod to the directory itself.
  const dir = dirname(path);
  const st = await stat(dir).catch(() => undefined);
  if (st === undefined || st.uid !== process.geteuid?.() || (st.mode & 0o200) !== 0) return false;
  const mode = st.mode & 0o7777;
  try {
    await chmod(dir, mode | 0o200);
  } catch {
    return false;
  }
  try {
    await unlink(path);
    return true;
  } catch (err) {
    return errnoCode(err) === 'ENOENT';
  } finally {
    // Back to what it was, unless someone changed it meanwhile (then theirs stands).
    const now = await stat(dir).catch(() => undefined);
    if (now !== undefined && (now.mode & 0o7777) === (mode | 0o200)) await chmod(dir, mode).catch(() => {});
  }
}

/** A temp file an upload could not remove, by its directory's and its own identity. */
interface LeftTemp {
  readonly dir: string;
  readonly name: string;
  readonly file: string;
}

const MAX_LEFT_TEMPS = 256;

/**
 * The temp files uploads left behind, oldest first; bounded (one forgotten is still found by the
 * next start's sweep, or by RMD's). One for the storages that share an UploadLocks (`ferry serve`:
 * the process's).
 */
export class LeftTemps {
  readonly #left: LeftTemp[] = [];

  get size(): number {
    return this.#left.length;
  }

  async remember(path: string, st: Stats): Promise<void> {
    // `path` is the temp file by its directory's descriptor: that directory is still open.
    const dir = await stat(dirname(path)).catch(() => undefined);
    if (dir === undefined) return;
    this.#left.push({ dir: key(dir), name: basename(path), file: key(st) });
    if (this.#left.length > MAX_LEFT_TEMPS) this.#left.shift();
  }

  /**
   * Tries again to remove the temp files left behind in `dir` (verified, open): an upload ends
   * there, so the directory may be writable again. Those still refused stay remembered.
   */
  async removeIn(dir: Pinned): Promise<void> {
    if (this.#left.length === 0) return;
    const here = key(dir.st);
    for (const t of this.#left.filter((l) => l.dir === here)) {
      const path = dir.child(t.name);
      try {
        // Only the very file left behind (closed since: no upload is writing it).
        if (key(await lstat(path)) === t.file) await unlink(path);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') continue; // still not removable: kept for the next upload
      }
      this.#left.splice(this.#left.indexOf(t), 1);
    }
  }
}

/** Told of a temp file left behind: its name and the errno that kept it (logged by the session). */
export type TempLeft = (temp: string, errno: string) => void;

/**
 * Removes an upload's temp file, then closes it. In this order: while it is open no stale-temp sweep
 * (RMD's) takes it for abandoned, and a close that fails still leaves nothing behind.
 */
export async function discardTemp(
  path: string,
  fh: FileHandle,
  temps: LeftTemps,
  left?: TempLeft,
): Promise<void> {
  const errno = await unlinkIfSame(path, fh, temps);
  if (errno !== undefined) left?.(basename(path), errno);
  await fh.close().catch(() => {});
}

function key(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, not ours to signal
  }
}

/**
 * Decides which temp files are stale. An upload in progress holds its temp file open from creation
 * to rename or unlink, so a temp file of this process that no descriptor of this process refers to
 * is stale (this also covers a restarted server that got the same pid, e.g. pid 1 in a container).
 */
export class StaleTempCheck {
  #open: Promise<Set<string>> | undefined;

  async isStale(name: string, st: Stats): Promise<boolean> {
    if (!st.isFile()) return false;
    // Held by whichever process commits now (maybe another worker): only one left by a crash goes.
    if (COMMIT_LOCK_NAME.test(name)) return Date.now() - st.mtimeMs >= STALE_LOCK_MS;
    const m = TEMP_NAME.exec(name);
    if (m === null) return true; // an older Ferry's name: that process's uploads are long gone
    if (m[1] !== HOST_TAG) return false;
    const pid = Number(m[2]);
    if (pid !== process.pid) return !isAlive(pid);
    this.#open ??= openFiles();
    return !(await this.#open).has(key(st));
  }
}

/** dev:ino of every file this process has open (taken fresh for each check). */
async function openFiles(): Promise<Set<string>> {
  const out = new Set<string>();
  const fds = await readdir('/proc/self/fd').catch(() => [] as string[]);
  await Promise.all(
    fds.map(async (fd) => {
      const st = await stat(`/proc/self/fd/${fd}`).catch(() => undefined);
      if (st?.isFile()) out.add(key(st));
    }),
  );
  return out;
}

/**
 * Removes the stale temp files among `names` in the verified directory `dir`, by that directory's
 * descriptor (never by a path that may have moved). Returns how many it removed.
 */
export async function removeStaleTemps(dir: Pinned, names: readonly string[]): Promise<number> {
  const check = new StaleTempCheck();
  let removed = 0;
  for (const name of names) {
    if (!isTempName(name)) continue;
    const path = dir.child(name);
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || !(await check.isStale(name, st))) continue;
    try {
      await unlink(path);
      removed++;
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
  return removed;
}

/**
 * Walks the tree under `root` (not following links) and removes stale upload temp files, one
 * directory at a time so it never holds up anything else. For the start of a server, in the
 * background; stops when `signal` aborts. Resolves with the count removed; `removedIn` is told each
 * directory (its real path) where some were.
 */
export async function sweepStaleUploads(
  root: string,
  signal: AbortSignal,
  removedIn: (dir: string) => void = () => {},
): Promise<number> {
  const jail = new FdJail(await realpath(root));
  let removed = 0;
  // Host paths, not descriptors: a wide tree must not exhaust the descriptor limit.
  const pending = [jail.rootReal];
  while (pending.length > 0 && !signal.aborted) {
    const path = pending.pop() as string;
    // Pinning verifies the directory is inside the root and not a link (links are not followed).
    const dir = await jail.pinDir(path, 'sweep', '/').catch(() => undefined);
    if (dir === undefined) continue;
    try {
      const entries = await readdir(dir.path, { withFileTypes: true }).catch(() => []);
      const files = entries.filter((e) => e.isFile()).map((e) => e.name);
      const here = await removeStaleTemps(dir, files);
      if (here > 0) removedIn(path);
      removed += here;
      for (const e of entries) if (e.isDirectory()) pending.push(join(path, e.name));
    } finally {
      await dir.close();
    }
  }
  return removed;
}
