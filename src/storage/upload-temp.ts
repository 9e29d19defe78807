// Upload temp files: their names, and removing the ones no upload will ever finish (a crash or
// kill -9 leaves them behind). A temp file is never shown, counted or addressable by clients.
import { createHash, randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FdJail, type Pinned } from './fd-jail.js';

const TEMP_PREFIX = '.ferry-upload-';
const TEMP_SUFFIX = '.tmp';
/** host tag, pid, random: which machine and process the upload belongs to. */
const TEMP_NAME = /^\.ferry-upload-([0-9a-f]{8})-([0-9]+)-[0-9a-f]+\.tmp$/;
/** Temp files of another host (a shared network tree) are left alone: we cannot tell if they are live. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
}

export function newTempName(): string {
  return `${TEMP_PREFIX}${HOST_TAG}-${process.pid}-${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`;
}

/** Removes the temp file only if the name still holds what this upload created. */
export async function unlinkIfSame(path: string, fh: FileHandle): Promise<void> {
  try {
    const [now, mine] = await Promise.all([lstat(path), fh.stat()]);
    if (now.ino === mine.ino && now.dev === mine.dev) await unlink(path);
  } catch {
    // already gone; a stale-temp sweep removes anything left
  }
}

/**
 * Removes an upload's temp file, then closes it. In this order: while it is open no stale-temp sweep
 * (RMD's) takes it for abandoned, and a close that fails still leaves nothing behind.
 */
export async function discardTemp(path: string, fh: FileHandle): Promise<void> {
  await unlinkIfSame(path, fh);
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
