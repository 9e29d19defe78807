// /proc helpers: process trees, memory (RSS and PSS from smaps_rollup).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** @returns {{pid:number, ppid:number, pgrp:number, state:string, start:string} | undefined} */
export function readStat(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ... starttime(22nd field)"; comm may contain ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(rest[1]), pgrp: Number(rest[2]), state: rest[0], start: rest[19] };
}

export function allProcs() {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readStat(Number(entry));
    if (p) out.push(p);
  }
  return out;
}

/** Live (non-zombie; with includeZombies also not yet reaped) descendants of `rootPid` (not including it). */
export function descendants(rootPid, includeZombies = false) {
  const procs = allProcs().filter((p) => includeZombies || p.state !== 'Z');
  const byParent = new Map();
  for (const p of procs) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const found = [];
  const queue = [rootPid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of byParent.get(pid) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

export function alive(pid) {
  const p = readStat(pid);
  return p !== undefined && p.state !== 'Z';
}

/** RSS and PSS of one process in KiB (smaps_rollup; PSS splits shared pages among their users). */
export function memoryOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const field = (name) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { rssKiB: field('Rss'), pssKiB: field('Pss') };
}

/** Sum of RSS and PSS over processes (those that vanished meanwhile are skipped). */
export function memoryOfAll(pids) {
  let rssKiB = 0;
  let pssKiB = 0;
  let count = 0;
  for (const pid of pids) {
    const m = memoryOf(pid);
    if (!m) continue;
    rssKiB += m.rssKiB;
    pssKiB += m.pssKiB;
    count++;
  }
  return { rssKiB, pssKiB, count };
}

let clockTicks;
/** CPU seconds used by `rootPid` and its live descendants, including their reaped children (cutime, cstime). */
export function cpuSecondsOfTree(rootPid) {
  clockTicks ??= Number(execFileSync('/usr/bin/getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let ticks = 0;
  for (const pid of [rootPid, ...descendants(rootPid).map((p) => p.pid)]) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14-17 (utime, stime, cutime, cstime) are f[11..14] after "pid (comm) "
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / clockTicks;
}
