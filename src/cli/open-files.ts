import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Logger } from '../logger.js';
import { CAP_SYS_RESOURCE, hasEffectiveCapability } from '../server/effective-capabilities.js';

/**
 * Descriptors one session may hold at once: control, data connection, passive listener, file, and
 * a refused transfer's data connection left for its client to close (one a session: LingeringData).
 */
const FDS_PER_SESSION = 5;
/** Listeners, log and users files, the admin listener, worker channels, libuv's own. */
const FDS_RESERVED = 256;

export interface OpenFilesLimit {
  readonly soft: number;
  readonly hard: number;
}

/** A process's RLIMIT_NOFILE from /proc/PID/limits (Infinity when unlimited). */
export function openFilesLimit(pid: number | 'self' = 'self'): OpenFilesLimit {
  const text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  const value = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s ?? 0));
  return { soft: value(m?.[1]), hard: value(m?.[2]) };
}

/** Descriptors `maxSessions` sessions may need at worst (every one transferring). */
export function openFilesNeeded(maxSessions: number): number {
  return maxSessions * FDS_PER_SESSION + FDS_RESERVED;
}

/** The kernel's ceiling for a hard limit (fs.nr_open). */
function kernelCeiling(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || 1_048_576;
  } catch {
    return 1_048_576;
  }
}

/** CAP_SYS_RESOURCE: may raise a hard limit (root has it, except in containers that drop it). */
export function maySetHardLimits(): boolean {
  return hasEffectiveCapability(CAP_SYS_RESOURCE) ?? false;
}

/**
 * Raises this process's open-files limit before the sessions come (and before the workers are
 * forked: they inherit it). Node has no setrlimit, so `prlimit --pid` (util-linux) sets the limit
 * on this process from outside, as setrlimit would:
 * - the soft limit to the hard one (what any process may do; Node does it at start too, but only
 *   up to the hard limit it was started with);
 * - when the hard limit is below what `maxSessions` may need, both to that (bounded by fs.nr_open),
 *   which takes CAP_SYS_RESOURCE (root's, unless a container dropped it); without it, or when that
 *   fails, a warning says how many sessions the limit allows for sure and how to raise it.
 * Returns the limit in force afterwards.
 */
export function raiseOpenFilesLimit(maxSessions: number, logger: Logger): OpenFilesLimit {
  const before = openFilesLimit();
  const needed = openFilesNeeded(maxSessions);
  let target = before.hard;
  if (before.hard < needed && maySetHardLimits()) target = Math.min(needed, kernelCeiling());
  if (before.soft < target) {
    const n = target === Infinity ? 'unlimited' : String(target);
    const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${n}:${n}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const after = openFilesLimit();
    if (after.soft > before.soft) {
      logger.info({ from: before, to: after }, 'open-files limit raised');
    } else {
      const why = r.error ? `prlimit (util-linux) could not run: ${r.error.message}` : r.stderr.trim();
      logger.warn({ limit: before, wanted: target, error: why }, 'could not raise the open-files limit');
    }
  }
  const now = openFilesLimit();
  if (now.soft < needed) {
    logger.warn(
      {
        openFiles: now.soft,
        needed,
        maxSessions,
        sessionsSure: Math.max(0, Math.floor((now.soft - FDS_RESERVED) / FDS_PER_SESSION)),
      },
      'the open-files limit is below what maxSessions may need: raise it (systemd LimitNOFILE=, ulimit -Hn) or start with CAP_SYS_RESOURCE (root)',
    );
  }
  return now;
}
