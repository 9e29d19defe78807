/**
 * A small tmpfs on a fresh temp dir: a real full disk (or one out of inodes, or read-only) for the
 * tests. Mounting needs root, as the tests run here and in CI.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  readonly path: string;
  /** Remounts it read-only or writable again. */
  remount(mode: 'ro' | 'rw'): Promise<void>;
  /** Unmounts it and removes the dir: call it once nothing holds a file there (servers closed). */
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of `sizeBytes` (and at most `inodes` inodes) on a temp dir named from `prefix`. */
export async function mountTmpfs(
  prefix: string,
  { sizeBytes, inodes }: { sizeBytes: number; inodes?: number },
): Promise<Tmpfs> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const options = [`size=${sizeBytes}`, ...(inodes === undefined ? [] : [`nr_inodes=${inodes}`])];
  try {
    await run('mount', ['-t', 'tmpfs', '-o', options.join(','), 'tmpfs', dir]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    path: dir,
    async remount(mode) {
      await run('mount', ['-o', `remount,${mode}`, dir]);
    },
    async unmount() {
      await run('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
