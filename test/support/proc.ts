// Reading /proc (Linux): process trees from /proc/PID/stat, memory from /proc/PID/smaps_rollup and
// /proc/PID/status, CPU time, open descriptors and their limit. The one module that reads /proc, for
// the tests (peer supervision in peers.ts, a server's RSS in ferry-process.ts) and the benchmarks
// (bench/lib/procs.mjs imports it from dist/). No state: every call reads /proc afresh.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  /** R, S, D, Z, … */
  readonly state: string;
  /** Start time in clock ticks since boot: with the pid, identifies a process across pid reuse. */
  readonly start: string;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly cpuTicks: number;
}

/** /proc/PID/stat, or undefined when the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp … utime(14) stime cutime cstime … starttime(22) …"; comm may hold ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgrp, start] = [f[0], f[1], f[2], f[19]];
  if (state === undefined || ppid === undefined || pgrp === undefined || start === undefined)
    return undefined;
  const cpuTicks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
  return { pid, ppid: Number(ppid), pgrp: Number(pgrp), state, start, cpuTicks };
}

export function allProcs(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readStat(Number(entry));
    if (p) out.push(p);
  }
  return out;
}

/**
 * Processes descending from the seeds (`rootPid`, and with `pgid` every member of that process
 * group), seeds included when `pgid` is given; zombies only with `includeZombies`.
 */
export function processTree(
  rootPid: number,
  { pgid, includeZombies = false }: { pgid?: number; includeZombies?: boolean } = {},
): ProcStat[] {
  const procs = allProcs().filter((p) => includeZombies || p.state !== 'Z');
  const byParent = new Map<number, ProcStat[]>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const found = new Map<number, ProcStat>();
  if (pgid !== undefined)
    for (const p of procs) if (p.pgrp === pgid || p.pid === rootPid) found.set(p.pid, p);
  const queue = pgid !== undefined ? [...found.keys()] : [rootPid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of byParent.get(pid) ?? []) {
      if (!found.has(child.pid)) {
        found.set(child.pid, child);
        queue.push(child.pid);
      }
    }
  }
  return [...found.values()];
}

/** Descendants of `rootPid`, not including it. */
export function descendants(rootPid: number, includeZombies = false): ProcStat[] {
  return processTree(rootPid, { includeZombies });
}

/** RSS and PSS of one process in KiB (smaps_rollup; PSS splits shared pages among their users). */
export function memoryOf(pid: number): { rssKiB: number; pssKiB: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rssKiB: field('Rss'), pssKiB: field('Pss') };
}

/** Sum of RSS and PSS over processes (those that vanished meanwhile are skipped). */
export function memoryOfAll(pids: Iterable<number>): { rssKiB: number; pssKiB: number; count: number } {
  const sum = { rssKiB: 0, pssKiB: 0, count: 0 };
  for (const pid of pids) {
    const m = memoryOf(pid);
    if (!m) continue;
    sum.rssKiB += m.rssKiB;
    sum.pssKiB += m.pssKiB;
    sum.count++;
  }
  return sum;
}

/** VmRSS of a process (/proc/PID/status), in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** How many descriptors a process has open (/proc/PID/fd). */
export function openFdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * How many TCP connections (not listeners) on local port `port` the process holds open: its socket
 * descriptors matched against its network namespace's /proc/PID/net/tcp and tcp6.
 */
export function connectionsOn(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkOrEmpty(`/proc/${pid}/fd/${fd}`));
    if (m?.[1]) inodes.add(m[1]);
  }
  let n = 0;
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1]?.split(':')[1];
      // f[3]: the state (0A: listening); f[9]: the socket's inode.
      if (local && parseInt(local, 16) === port && f[3] !== '0A' && inodes.has(f[9] ?? '')) n++;
    }
  }
  return n;
}

function readlinkOrEmpty(file: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return ''; // closed meanwhile
  }
}

/** Clock ticks per second, the unit of /proc/PID/stat's CPU times. */
function clockTicksPerSecond(): number {
  return Number(execFileSync('/usr/bin/getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
}

/** CPU seconds used by `rootPid` and its live descendants, including their reaped children (cutime, cstime). */
export function cpuSecondsOfTree(rootPid: number): number {
  const perSecond = clockTicksPerSecond(); // before reading the times: getconf's own CPU is not counted
  let ticks = 0;
  for (const pid of [rootPid, ...descendants(rootPid).map((p) => p.pid)])
    ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / perSecond;
}

/** This process's soft limit on open files (/proc/self/limits); Infinity when unlimited. */
export function openFilesSoftLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  return m?.[1] === 'unlimited' ? Infinity : Number(m?.[1] ?? 0);
}
