/**
 * A FUSE mount (bindfs) whose daemon the e2e tests stop with SIGSTOP: every call under it then
 * blocks, as on a dead NFS server.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** Why bindfs mounts cannot be made here (a test skip reason), or false. */
export function noBindfs(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (mounts FUSE)';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing: no FUSE in this container';
  if (spawnSync('bindfs', ['--version'], { stdio: 'ignore' }).error)
    return 'bindfs is not installed (apt-get install bindfs)';
  return false;
}

/** The pid of the bindfs daemon serving `mountPoint` (it forks into the background once mounted). */
export function bindfsPid(source: string, mountPoint: string): number {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (path.basename(argv[0] ?? '') === 'bindfs' && argv[1] === source && argv[2] === mountPoint)
      return Number(pid);
  }
  throw new Error(`no bindfs process for ${mountPoint}`);
}

/** The process's state letter (proc(5)): 'T' while stopped. */
export function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** Unmounts `mountPoint` (lazily if it is busy). */
export function unmount(mountPoint: string): void {
  if (spawnSync('fusermount', ['-u', mountPoint], { stdio: 'ignore' }).status !== 0)
    spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
}

/**
 * Lets the stopped daemon `pid` go after `seconds`, should the test hang on it (a frozen process:
 * the defect): the test then fails instead of hanging. Kill what it returns once thawed.
 */
export function thawLater(pid: number, seconds: number): ChildProcess {
  return spawn('sh', ['-c', `sleep ${seconds}; kill -CONT ${pid}`], { stdio: 'ignore' });
}
