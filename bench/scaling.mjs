#!/usr/bin/env node
// `npm run bench:scaling`: how Ferry's cost grows, beside peers, with clients that are not Ferry's:
// aggregate RETR throughput with 1, 4, 16, 64 concurrent downloads (the harness's C client, one
// process per download), server CPU per GiB sent and received, memory at 1k, 5k and 10k idle
// logged-in TLS sessions (Python, the harness's login) and the latency of a new login while they are
// held. Ferry is started by its CLI (default workers, then --workers 1), each peer by `peer start`, and
// last the floor: the least a Node.js FTPS server keeps per session (lib/node-floor-server.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { buildIfNeeded } from './lib/build.mjs';
import { startFerry, stopFerry } from './lib/ferry-cli.mjs';
import { findHarness, runningPeer, workDir } from './lib/harness.mjs';
import { BENCH_DIR, HOST, RESULTS_DIR, ROOT } from './lib/paths.mjs';
import { cpuSecondsOfTree, descendants, memoryOfAll } from './lib/procs.mjs';
import { runProcess, running } from './lib/run-process.mjs';
import { median } from './lib/stats.mjs';

const USAGE = `usage: npm --prefix bench run bench:scaling [-- --quick]
environment (space-separated lists):
  SCALING_CONC      concurrent downloads (default "1 4 16 64"; each level moves SCALING_MIB in all)
  SCALING_MIB       MiB downloaded per level (default 1024)
  SCALING_SESSIONS  idle session counts measured (default "1000 5000 10000")
  SCALING_SERVERS   what is measured (default "ferry ferry-w1 pureftpd pyftpdlib node-floor"; node-floor:
                    lib/node-floor-server.mjs, the least a Node.js FTPS server keeps per session,
                    sessions only)
  SCALING_PARTS     which measurements (default "retr stor sessions")
  FERRY_BENCH_PORT  Ferry's implicit port (default 22500; explicit +1); FERRY_BENCH_PASV its passive
                    range "A-B" (default: any free port)
--quick: "1 4", 256 MiB, "300 1000" sessions`;

const quick = process.argv.includes('--quick');
const list = (name, dflt) => (process.env[name] ?? dflt).split(/\s+/).filter(Boolean);
const CONC = list('SCALING_CONC', quick ? '1 4' : '1 4 16 64').map(Number);
const MIB = Number(process.env.SCALING_MIB ?? (quick ? 256 : 1024));
const LEVELS = list('SCALING_SESSIONS', quick ? '300 1000' : '1000 5000 10000').map(Number);
const SERVERS = list('SCALING_SERVERS', 'ferry ferry-w1 pureftpd pyftpdlib node-floor');
const PARTS = list('SCALING_PARTS', 'retr stor sessions');
const PORT = Number(process.env.FERRY_BENCH_PORT ?? 22500);
const PER_SOURCE = 2000; // sessions per client address (Ferry's maxSessionsPerAddress default)
const PROBES = 20;
const GiB = 1024 ** 3;

const log = (msg) => process.stderr.write(`[scaling ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Everything started here, so that any exit ends it: processes, and the peer that is running. */
const owned = new Set();
let peerRunning;
function endAll() {
  for (const c of [...owned, ...running]) c.kill('SIGKILL');
  if (peerRunning) spawnSync(peerRunning.script, ['stop', peerRunning.name], { stdio: 'ignore' });
}
function own(child) {
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  return child;
}

/**
 * N downloads at once, one ftpsc process each (each logs in itself): aggregate MB/s = all bytes /
 * (from starting the N clients to the exit of the last), logins included: each client's own
 * RETR-to-226 windows can hide that a server serves the others one after the other.
 */
async function downloads(t, ftpsc, n, remote, size) {
  const cpu0 = cpuSecondsOfTree(t.pid);
  const t0 = performance.now();
  const runs = await Promise.all(
    Array.from({ length: n }, async () => {
      const r = await runProcess(ftpsc, ['retr', HOST, String(t.port), t.mode, 'bench', 'bench', remote], {
        timeoutMs: 240_000,
      });
      const bytes = Number(/^bytes=(\d+)$/m.exec(r.stdout)?.[1]);
      if (r.code !== 0 || bytes !== size)
        throw new Error(`ftpsc retr ${remote}: ${r.code} ${r.stdout} ${r.stderr}`.trim());
      return bytes;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSecondsOfTree(t.pid) - cpu0;
  const total = runs.reduce((s, b) => s + b, 0);
  return { mbps: total / seconds / 1e6, cpuPerGiB: cpu / (total / GiB) };
}

/** One STOR of the 1 GiB file: MB/s and server CPU per GiB received. */
async function upload(t, ftpsc, w, dir) {
  const cpu0 = cpuSecondsOfTree(t.pid);
  const file = path.join(w, 'data', 'big.bin');
  const size = statSync(file).size;
  const remote = `/upload/${path.basename(dir)}/stor-${t.label}.bin`;
  const r = await runProcess(ftpsc, ['stor', HOST, String(t.port), t.mode, 'bench', 'bench', remote, file], {
    timeoutMs: 240_000,
  });
  const cpu = cpuSecondsOfTree(t.pid) - cpu0;
  rmSync(path.join(dir, `stor-${t.label}.bin`), { force: true });
  const mbps = Number(/^MBps=(.*)$/m.exec(r.stdout)?.[1]);
  if (r.code !== 0 || !Number.isFinite(mbps)) throw new Error(`ftpsc stor: ${r.stdout} ${r.stderr}`.trim());
  return { mbps, cpuPerGiB: cpu / (size / GiB) };
}

/** A hold.py process: sessions from one source address, driven line by line. */
function holder(harness, t, source) {
  const child = own(
    spawn(
      '/usr/bin/python3',
      [
        path.join(BENCH_DIR, 'lib', 'hold.py'),
        path.join(harness, 'tools'),
        HOST,
        String(t.sessionPort ?? t.port),
        t.sessionMode ?? t.mode,
        'bench',
        'bench',
        source,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async ask(command) {
      child.stdin.write(command + '\n');
      const { value, done } = await lines.next();
      if (done) throw new Error(`hold.py (${source}) exited`);
      return value.split(' ');
    },
    async quit() {
      if (child.exitCode !== null) return;
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

/** Memory of the server's process tree: RSS summed over processes (the harness's figure) and PSS. */
function memory(pid) {
  const m = memoryOfAll([pid, ...descendants(pid).map((p) => p.pid)]);
  return { rssMiB: m.rssKiB / 1024, pssMiB: m.pssKiB / 1024, procs: m.count };
}

/** Idle sessions opened level by level from several addresses; memory at each; new-login latency. */
async function sessions(harness, t, levels) {
  const top = Math.max(...levels);
  const n = Math.ceil(top / PER_SOURCE);
  const holders = Array.from({ length: n }, (_, i) => holder(harness, t, `127.0.0.${11 + i}`));
  const probe = holder(harness, t, '127.0.0.10');
  const out = { base: memory(t.pid), levels: [] };
  try {
    let opened = 0;
    for (const level of levels) {
      const share = Math.ceil((level - opened) / n);
      const t0 = performance.now();
      const answers = await Promise.all(holders.map((h) => h.ask(`open ${share}`)));
      const total = answers.reduce((s, a) => s + Number(a[1]), 0);
      const errors = answers.reduce((s, a) => s + Number(a[2]), 0);
      opened = total;
      const openS = (performance.now() - t0) / 1000;
      await delay(2000); // let the last sessions settle
      const alive = (await Promise.all(holders.map((h) => h.ask('noop')))).reduce(
        (s, a) => s + Number(a[1]),
        0,
      );
      const m = memory(t.pid);
      log(
        `  ${t.label}: ${alive}/${level} idle sessions alive (${errors} errors${errors ? `: ${answers.find((a) => a[2] !== '0')?.[3]}` : ''}), opened in ${openS.toFixed(1)} s; RSS ${m.rssMiB.toFixed(0)} MiB, PSS ${m.pssMiB.toFixed(0)} MiB (${m.procs} processes)`,
      );
      out.levels.push({ level, alive, errors, ...m });
      if (alive < level) break;
    }
    const times = (await probe.ask(`probe ${PROBES}`)).slice(1).map(Number);
    const ok = times.filter((x) => x >= 0);
    out.login = {
      held: out.levels.at(-1)?.alive ?? 0,
      median: median(ok),
      max: Math.max(...ok),
      failed: times.length - ok.length,
    };
    log(
      `  ${t.label}: new login with ${out.login.held} held: median ${out.login.median.toFixed(1)} ms, max ${out.login.max.toFixed(1)} ms (${out.login.failed} failed)`,
    );
  } finally {
    await Promise.all([...holders, probe].map((h) => h.quit()));
  }
  return out;
}

/** The measurements of one server. */
async function measure(harness, w, ftpsc, t, files, dir) {
  const r = { label: t.label, title: t.title, conc: new Map() };
  for (const n of PARTS.includes('retr') && !t.sessionsOnly ? CONC : []) {
    const size = (MIB * 1024 * 1024) / n;
    const remote = n === 1 && MIB === 1024 ? '/big.bin' : files.get(n);
    try {
      r.conc.set(n, await downloads(t, ftpsc, n, remote, size));
      log(
        `  ${t.label}: ${n} downloads: ${r.conc.get(n).mbps.toFixed(0)} MB/s, ${r.conc.get(n).cpuPerGiB.toFixed(2)} CPU s/GiB`,
      );
    } catch (err) {
      log(`  ${t.label}: ${n} downloads failed: ${err.message}`);
    }
  }
  if (PARTS.includes('stor') && !t.sessionsOnly)
    try {
      r.stor = await upload(t, ftpsc, w, dir);
      log(`  ${t.label}: STOR ${r.stor.mbps.toFixed(0)} MB/s, ${r.stor.cpuPerGiB.toFixed(2)} CPU s/GiB`);
    } catch (err) {
      log(`  ${t.label}: STOR failed: ${err.message}`);
    }
  const levels = PARTS.includes('sessions') ? LEVELS.filter((l) => l <= (t.maxSessions ?? Infinity)) : [];
  if (levels.length) {
    try {
      r.sessions = await sessions(harness, t, levels);
    } catch (err) {
      log(`  ${t.label}: sessions failed: ${err.message}`);
    }
  }
  return r;
}

/** Ferry by its CLI; `workers` undefined = its default (one per core). */
async function withFerry(w, label, workers, fn) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ferry-scaling-data-'));
  // maxSessions above the top level: the probe's login comes on top of the held sessions. The 64
  // downloads come from one address at once: more than the defender's default 16 connections not yet
  // logged in and 16 pending passive ports per address (and per user).
  const config = path.join(dataDir, 'scaling.yaml');
  const most = Math.max(64, ...CONC);
  writeFileSync(
    config,
    [
      `maxSessions: ${Math.max(10_000, ...LEVELS) + 100}`,
      'defender:',
      `  maxUnauthenticatedPerAddress: ${most}`,
      `  maxPassivePerAddress: ${most}`,
      `  maxPassivePerUser: ${most}`,
      '',
    ].join('\n'),
  );
  const args = ['--config', config, ...(workers ? ['--workers', String(workers)] : [])];
  const child = own(await startFerry(w, { port: PORT, pasv: process.env.FERRY_BENCH_PASV, dataDir, args }));
  const n = 1 + descendants(child.pid).length;
  const title = workers ? `Ferry --workers ${workers}` : `Ferry (default: ${n - 1} workers + primary)`;
  log(`${title}: pid ${child.pid}`);
  try {
    return await fn({ label, title, pid: child.pid, port: PORT + 1, mode: 'explicit' });
  } finally {
    await stopFerry(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The floor under any Node.js server's memory per session (lib/node-floor-server.mjs), with the
 * harness's certificate: sessions only (it serves no files).
 */
async function withNodeFloor(w, fn) {
  const child = own(
    spawn(
      process.execPath,
      [
        path.join(BENCH_DIR, 'lib', 'node-floor-server.mjs'),
        String(PORT),
        path.join(w, '.state', 'cert.pem'),
        path.join(w, '.state', 'key.pem'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  log(`node-floor: pid ${child.pid}, ${line}`);
  try {
    return await fn({
      label: 'node-floor',
      title: 'minimal Node.js TLS server (floor)',
      pid: child.pid,
      port: PORT,
      mode: 'explicit',
      sessionsOnly: true,
    });
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

/** A harness peer, started for this and stopped after; undefined when it cannot start (busy). */
async function withPeer(harness, name, fn) {
  const peer = path.join(harness, 'peer');
  // Pure-FTPd caps its sessions at half its passive range unless the kernel picks passive ports.
  const env = {
    ...process.env,
    ...(name === 'pureftpd' ? { PUREFTPD_PASV: 'kernel' } : {}),
    FTPS_MODE: 'explicit',
  };
  const started = await runProcess(peer, ['start', name], { env, timeoutMs: 30_000 });
  if (started.code !== 0) {
    log(`${name}: not measured (${(started.stderr || started.stdout).trim()})`);
    return undefined;
  }
  peerRunning = { script: peer, name };
  try {
    const p = runningPeer(name);
    log(`${name}: pid ${p.pid}`);
    const titles = { pureftpd: 'Pure-FTPd', pyftpdlib: 'pyftpdlib', vsftpd: 'vsftpd', proftpd: 'ProFTPD' };
    return await fn({
      label: name,
      title: titles[name] ?? name,
      pid: p.pid,
      port: p.port,
      mode: p.mode,
      // forking servers: thousands of sessions are thousands of processes; pyftpdlib: max_cons 4000
      maxSessions: name === 'pyftpdlib' ? 3900 : 0,
    });
  } finally {
    await runProcess(peer, ['stop', name], { timeoutMs: 30_000 });
    peerRunning = undefined;
  }
}

const f0 = (x) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const f2 = (x) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));

function table(results) {
  const rows = [];
  const row = (name, f) => rows.push(`| ${name} | ${results.map((r) => f(r)).join(' | ')} |`);
  for (const n of CONC)
    row(`RETR, ${n} concurrent download${n > 1 ? 's' : ''}: aggregate MB/s`, (r) => f0(r.conc.get(n)?.mbps));
  for (const n of CONC)
    row(`server CPU s per GiB sent, ${n} download${n > 1 ? 's' : ''}`, (r) => f2(r.conc.get(n)?.cpuPerGiB));
  row('STOR 1 GiB, MB/s', (r) => f0(r.stor?.mbps));
  row('server CPU s per GiB received', (r) => f2(r.stor?.cpuPerGiB));
  // Holders open a level in equal shares, so a level may hold a few sessions more than its name.
  const at = (r, level) => r.sessions?.levels.find((l) => l.level === level && l.alive >= level);
  row('RSS with no session, MiB (all processes)', (r) => f0(r.sessions?.base.rssMiB));
  for (const level of LEVELS) {
    row(`RSS at ${level.toLocaleString('en')} idle TLS sessions, MiB`, (r) => f0(at(r, level)?.rssMiB));
    row(`  RSS / sessions at ${level.toLocaleString('en')}, kB`, (r) =>
      f0(at(r, level) && (at(r, level).rssMiB * 1024) / at(r, level).alive),
    );
    row(`  (PSS − PSS before) / sessions at ${level.toLocaleString('en')}, kB`, (r) =>
      f0(at(r, level) && ((at(r, level).pssMiB - r.sessions.base.pssMiB) * 1024) / at(r, level).alive),
    );
  }
  row('new login with the top level held: median / max ms', (r) =>
    r.sessions?.login
      ? `${f0(r.sessions.login.median)} / ${f0(r.sessions.login.max)} (${r.sessions.login.held.toLocaleString('en')} held)`
      : 'n/a',
  );
  return [
    `| metric | ${results.map((r) => r.title).join(' | ')} |`,
    `|---|${'---|'.repeat(results.length)}`,
    ...rows,
  ].join('\n');
}

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const harness = findHarness();
  const w = workDir(harness);
  const ftpsc = path.join(w, '.state', 'ftpsc');
  log(await buildIfNeeded(ROOT, log));
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  // The files each level downloads (MIB in all): in the upload folder every server serves.
  const dir = mkdtempSync(path.join(w, 'data', 'upload', 'scaling-'));
  chmodSync(dir, 0o777); // the peers serve it as the user bench
  const files = new Map();
  const results = [];
  const stop = () => {
    endAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    for (const n of CONC) {
      if (n === 1 && MIB === 1024) continue; // big.bin
      const file = path.join(dir, `f-${n}.bin`);
      const blocks = MIB / n;
      for (let i = 0; i < blocks; i++) writeFileSync(file, block, { flag: i === 0 ? 'w' : 'a' });
      files.set(n, `/upload/${path.basename(dir)}/f-${n}.bin`);
    }
    for (const s of SERVERS) {
      const run = (t) => measure(harness, w, ftpsc, t, files, dir);
      const r =
        s === 'ferry'
          ? await withFerry(w, s, undefined, run)
          : s === 'ferry-w1'
            ? await withFerry(w, s, 1, run)
            : s === 'node-floor'
              ? await withNodeFloor(w, run)
              : await withPeer(harness, s, run);
      if (r) results.push(r);
    }
  } finally {
    endAll();
    rmSync(dir, { recursive: true, force: true });
  }
  const header = `Ferry scaling, bench/scaling.mjs${quick ? ' --quick' : ''}: ${MIB} MiB per download level, levels ${CONC.join('/')}, sessions ${LEVELS.join('/')}; load before: ${load}; ${new Date().toISOString().slice(0, 16)}Z`;
  const text = `${header}\n\n${table(results)}\n`;
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, 'scaling-latest.md'), text);
  process.stdout.write(text);
}

main().catch((err) => {
  log(`error: ${err instanceof Error ? err.stack : err}`);
  endAll();
  process.exitCode = 1;
});
