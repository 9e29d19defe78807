#!/usr/bin/env node
// Ferry vs vsftpd on loopback, one command: `npm run bench` (in bench/) or `node bench/run.mjs`.
// See README.md for what is measured and how. Run as root (vsftpd switches users).
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/cli-args.mjs';
import { BENCH_DIR, CURL, DIST_INDEX, HOST, RESULTS_DIR } from './lib/paths.mjs';
import { startFerry } from './lib/ferry.mjs';
import { ImplicitSession } from './lib/ftp-client.mjs';
import { requireTools } from './lib/preflight.mjs';
import { cpuSecondsOfTree, memoryOfAll } from './lib/procs.mjs';
import { topFunctions } from './lib/profile.mjs';
import * as report from './lib/report.mjs';
import { check, runProcess } from './lib/run-process.mjs';
import { runControl } from './lib/run-control.mjs';
import { prepareRun, syncAll, warmCache, writeBigFile } from './lib/setup.mjs';
import { median, percentile, round } from './lib/stats.mjs';
import { startVsftpd, VSFTPD_LOGIN } from './lib/vsftpd.mjs';

const MiB = 1024 * 1024;
const METRICS = ['retr', 'stor', 'sessions', 'small', 'list', 'memory'];

// ------------------------------------------------------------------------------------------------
// options

const USAGE = `usage: node run.mjs [--quick] [--profile] [--no-build] [--only=${METRICS.join(',')}]
                   [--reps=N] [--seconds=N] [--keep-temp]
  --quick      64 MiB files, 100 sessions, 200 small files, 2,000 entries, 3 s rate runs, 1 repetition
  --profile    run each Ferry child with --cpu-prof (results/profiles/) and print its hottest functions
  --no-build   do not rebuild the root package even if dist/ looks stale
  --only=…     run only these metrics (comma-separated)
  --reps=N     repetitions of the transfer and listing metrics (median reported; default 3, quick 1)
  --seconds=N  duration of each sessions-per-second run (default 10, quick 3)
  --keep-temp  leave the temporary directory (data, configs) in place for inspection`;

const opts = parseArgs(process.argv.slice(2), {
  metrics: METRICS,
  usage: USAGE,
  flags: { '--profile': 'profile' },
  ints: { '--seconds=': 'seconds' },
});
const P = opts.quick
  ? { bigBytes: 64 * MiB, sessions: 100, files: 200, entries: 2_000, seconds: 3, reps: 1 }
  : { bigBytes: 1024 * MiB, sessions: 1_000, files: 1_000, entries: 10_000, seconds: 10, reps: 3 };
if (opts.reps) P.reps = opts.reps;
if (opts.seconds) P.seconds = opts.seconds;
P.smallBytes = 16 * 1024;
P.workers = 4; // parallel clients in the sessions-per-second runs
P.openConcurrency = 16; // sessions being opened at once in the memory metric
P.cheapScryptN = 1024; // ~1.7 ms per check here, like vsftpd's SHA-512 crypt (~1.8 ms)
const sizeLabel = P.bigBytes >= 1024 * MiB ? `${P.bigBytes / 1024 / MiB} GiB` : `${P.bigBytes / MiB} MiB`;

const { t0, log, cleanups, runMetrics, finish } = runControl('bench', opts.quick ? 15 : 60);

// ------------------------------------------------------------------------------------------------
// helpers

function curlBase(t) {
  return [
    '--disable',
    '--silent',
    '--show-error',
    '--insecure',
    '--ssl-reqd',
    '--user',
    `${t.user}:${t.password}`,
    '--connect-timeout',
    '15',
    ...(t.curlTls ?? []),
  ];
}
const url = (t, p) => `ftp://${HOST}:${t.port}${p}`;
function curl(t, args, timeoutMs) {
  return runProcess(CURL, [...curlBase(t), ...args], { timeoutMs });
}

async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------------------------------------
// setup

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function prepareData(root) {
  log(`writing ${sizeLabel} file, ${P.files} × 16 KiB files, ${P.entries} directory entries …`);
  await writeBigFile(path.join(root, 'big.bin'), P.bigBytes);
  await mkdir(path.join(root, 'small'), { mode: 0o755 });
  const names = Array.from({ length: P.files }, (_, i) => `f${String(i).padStart(5, '0')}`);
  await inBatches(names, 64, (n) =>
    writeFile(path.join(root, 'small', n), randomBytes(P.smallBytes), { mode: 0o644 }),
  );
  await mkdir(path.join(root, 'dir10k'), { mode: 0o755 });
  const entries = Array.from({ length: P.entries }, (_, i) => `entry-${String(i).padStart(6, '0')}.dat`);
  await inBatches(entries, 128, (n) => writeFile(path.join(root, 'dir10k', n), '', { mode: 0o644 }));
  await syncAll();
  await warmCache(path.join(root, 'big.bin')); // both servers read it from memory
}

function ensureFileLimit(needed) {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  const soft = m?.[1] === 'unlimited' ? Infinity : Number(m?.[1] ?? 0);
  if (soft >= needed || process.env.FERRY_BENCH_REEXEC) return `${soft}`;
  // Node raises its soft limit to the hard limit at startup; the hard one is too low: re-run under prlimit.
  log(`open-files limit ${soft} < ${needed}: re-running under prlimit --nofile=65536 (root)`);
  const res = spawnSync(
    '/usr/bin/prlimit',
    [
      '--nofile=65536:65536',
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    {
      stdio: 'inherit',
      env: { ...process.env, FERRY_BENCH_REEXEC: '1' },
    },
  );
  process.exit(res.status ?? 1);
}

// ------------------------------------------------------------------------------------------------
// the two servers

let cert;
let dirs;
const ferryLogs = {};
const profiles = {};

/** Starts a fresh Ferry child for one metric, runs fn, stops it (and summarizes its CPU profile). */
async function withFerry(name, extra, fn) {
  const profName = `ferry-${name}`;
  const cpuProfDir = opts.profile ? path.join(RESULTS_DIR, 'profiles') : undefined;
  if (cpuProfDir) await mkdir(cpuProfDir, { recursive: true });
  const ferry = await startFerry(
    {
      distIndex: DIST_INDEX,
      root: dirs.root,
      certFile: cert.certFile,
      keyFile: cert.keyFile,
      dataDir: dirs.ferryData,
      user: 'bench',
      password: 'bench-Pa55',
      ...extra,
    },
    { cpuProfDir, profName },
  );
  const stop = () => ferry.stop();
  cleanups.push(stop);
  try {
    return await fn(ferry);
  } finally {
    const logs = await ferry.stop();
    cleanups.splice(cleanups.indexOf(stop), 1);
    if (logs.length > 0) ferryLogs[name] = logs;
    if (cpuProfDir) {
      const file = path.join(cpuProfDir, `${profName}.cpuprofile`);
      if (existsSync(file)) profiles[name] = { file: path.relative(BENCH_DIR, file), ...topFunctions(file) };
    }
  }
}

const ferryTarget = (ferry, implicit = false) => ({
  name: 'ferry',
  port: implicit ? ferry.implicitPort : ferry.explicitPort,
  user: 'bench',
  password: 'bench-Pa55',
  cpuPid: ferry.pid,
  settle: async () => {},
});
let vsExplicit;
let vsImplicit;
const vsTarget = (implicit = false) => {
  const server = implicit ? vsImplicit : vsExplicit;
  return {
    name: 'vsftpd',
    port: server.port,
    user: VSFTPD_LOGIN.user,
    password: VSFTPD_LOGIN.password,
    cpuPid: server.cpuRoot,
    // ended sessions count once their processes are reaped (their CPU time moves to the listener)
    settle: () => waitFor(() => server.idle(), 10_000),
  };
};

/** Server CPU seconds (user+system, all its processes and threads) spent while `fn` runs. */
async function withServerCpu(t, fn) {
  await t.settle();
  const before = cpuSecondsOfTree(t.cpuPid);
  const result = await fn();
  await t.settle();
  return { result, cpuS: cpuSecondsOfTree(t.cpuPid) - before };
}

// ------------------------------------------------------------------------------------------------
// metrics

const rows = [];
const checks = [];
const notes = [];
const row = report.rowAdder(rows, 'vsftpd');
function failedRow(id, label, unit, better, err, side = 'both') {
  rows.push({
    id,
    label,
    unit,
    better,
    ferry: undefined,
    vsftpd: undefined,
    ratio: undefined,
    error: `${side}: ${err.message}`,
  });
}

/** Runs `fn(target, rep)` for Ferry and vsftpd, alternating, P.reps times; collects per side. */
async function alternate(targets, fn) {
  const out = Object.fromEntries(targets.map((t) => [t.name, []]));
  const errors = {};
  for (let rep = 0; rep < P.reps; rep++) {
    for (const t of targets) {
      if (errors[t.name]) continue;
      try {
        out[t.name].push(await fn(t, rep));
      } catch (err) {
        errors[t.name] = err.message;
        log(`  ${t.name}: FAILED: ${err.message.split('\n')[0]}`);
      }
    }
  }
  return { samples: out, errors };
}

async function retrOnce(t) {
  await syncAll();
  const out = path.join(dirs.client, `retr-${t.name}.bin`);
  try {
    const { result: r, cpuS } = await withServerCpu(t, async () =>
      check(
        await curl(
          t,
          ['--output', out, '--write-out', '%{size_download} %{time_total}', url(t, '/big.bin')],
          900_000,
        ),
        `curl RETR from ${t.name}`,
      ),
    );
    const [, seconds] = r.stdout.trim().split(' ').map(Number);
    const size = (await stat(out)).size;
    if (size !== P.bigBytes)
      throw new Error(`RETR from ${t.name}: got ${size} bytes, expected ${P.bigBytes}`);
    const mbps = P.bigBytes / seconds / 1e6;
    const cpuPerGiB = cpuS / (P.bigBytes / 2 ** 30);
    log(
      `  RETR ${t.name}: ${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s; server CPU ${cpuS.toFixed(2)} s)`,
    );
    return { mbps, cpuPerGiB };
  } finally {
    await rm(out, { force: true });
  }
}

async function storOnce(t, rep) {
  await syncAll();
  const name = `upload-${t.name}-${rep}.bin`;
  const target = path.join(dirs.root, name);
  try {
    const { result: r, cpuS } = await withServerCpu(t, async () =>
      check(
        await curl(
          t,
          [
            '--upload-file',
            path.join(dirs.root, 'big.bin'),
            '--write-out',
            '%{size_upload} %{time_total}',
            url(t, `/${name}`),
          ],
          900_000,
        ),
        `curl STOR to ${t.name}`,
      ),
    );
    const [, seconds] = r.stdout.trim().split(' ').map(Number);
    // the time it takes to make the file durable after the 226 (Ferry fsyncs before replying)
    const s = await runProcess('/usr/bin/sync', [target], { timeoutMs: 300_000 });
    const syncSeconds = s.wallMs / 1000;
    const size = (await stat(target)).size;
    if (size !== P.bigBytes)
      throw new Error(`STOR to ${t.name}: file has ${size} bytes, expected ${P.bigBytes}`);
    const mbps = P.bigBytes / seconds / 1e6;
    const durable = P.bigBytes / (seconds + syncSeconds) / 1e6;
    log(
      `  STOR ${t.name}: ${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s; + fsync afterwards ${syncSeconds.toFixed(2)} s; server CPU ${cpuS.toFixed(2)} s)`,
    );
    return { mbps, durable, cpuPerGiB: cpuS / (P.bigBytes / 2 ** 30) };
  } finally {
    await rm(target, { force: true });
  }
}

async function metricRetr() {
  log(`RETR ${sizeLabel} over PROT P (curl), ${P.reps}×`);
  const label = `RETR ${sizeLabel}, PROT P (curl${P.reps > 1 ? `, median of ${P.reps}` : ''})`;
  await withFerry('retr', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], retrOnce);
    const med = (xs, k) => median(xs.map((x) => x[k]));
    row('retr_mbps', label, 'MB/s', 'higher', med(samples.ferry, 'mbps'), med(samples.vsftpd, 'mbps'), {
      samples,
      errors,
    });
    row(
      'retr_cpu',
      `  server CPU per GiB sent (user+sys)`,
      's/GiB',
      'lower',
      med(samples.ferry, 'cpuPerGiB'),
      med(samples.vsftpd, 'cpuPerGiB'),
    );
  });
}

async function metricStor() {
  log(`STOR ${sizeLabel} over PROT P (curl), ${P.reps}×`);
  const med = (xs, k) => median(xs.map((x) => x[k]));
  await withFerry('stor', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], storOnce);
    row(
      'stor_mbps',
      `STOR ${sizeLabel}, PROT P (curl${P.reps > 1 ? `, median of ${P.reps}` : ''}; until 226)`,
      'MB/s',
      'higher',
      med(samples.ferry, 'mbps'),
      med(samples.vsftpd, 'mbps'),
      { samples, errors },
    );
    row(
      'stor_durable_mbps',
      `STOR ${sizeLabel}, until 226 + fsync(file) afterwards`,
      'MB/s',
      'higher',
      med(samples.ferry, 'durable'),
      med(samples.vsftpd, 'durable'),
    );
    row(
      'stor_cpu',
      `  server CPU per GiB received (user+sys)`,
      's/GiB',
      'lower',
      med(samples.ferry, 'cpuPerGiB'),
      med(samples.vsftpd, 'cpuPerGiB'),
    );
  });
  notes.push(
    'STOR: Ferry fsyncs the file (and its directory) before it sends 226; vsftpd does not. The second STOR row adds the time `sync FILE` takes right after curl exits, i.e. both servers at equal durability.',
  );
}

/** Implicit TLS connect + login + QUIT in a loop on `workers` parallel clients for `seconds`. */
async function sessionRate(t, tlsOptions, seconds) {
  const connect = () => ImplicitSession.connect({ host: HOST, port: t.port, tlsOptions, timeoutMs: 15_000 });
  const one = async () => {
    const s = await connect();
    try {
      await s.login(t.user, t.password);
      await s.quit();
    } catch (err) {
      s.destroy();
      throw err;
    }
  };
  // warm-up (TLS, JIT, caches), not counted
  await Promise.all(Array.from({ length: P.workers * 2 }, one));
  const probe = await connect();
  const negotiated = probe.tlsInfo;
  probe.destroy();
  let completed = 0;
  let errors = 0;
  const errorSamples = [];
  const latencies = [];
  await t.settle();
  const cpuBefore = cpuSecondsOfTree(t.cpuPid);
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end && errors < 100) {
      const s0 = performance.now();
      try {
        await one();
        completed++;
        latencies.push(performance.now() - s0);
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(err.message);
      }
    }
  };
  await withTimeout(
    Promise.all(Array.from({ length: P.workers }, worker)),
    seconds * 1000 + 60_000,
    'sessions run',
  );
  const elapsed = (performance.now() - start) / 1000;
  const rate = completed / elapsed;
  await t.settle();
  const cpuMsPerSession = ((cpuSecondsOfTree(t.cpuPid) - cpuBefore) * 1000) / completed;
  log(
    `  ${t.name}: ${rate.toFixed(1)} sessions/s (${completed} in ${elapsed.toFixed(1)} s, ${errors} errors, ${negotiated.protocol}; server CPU ${cpuMsPerSession.toFixed(2)} ms/session)`,
  );
  if (errors > 0) log(`    errors: ${errorSamples.join(' | ')}`);
  return {
    rate,
    completed,
    errors,
    errorSamples,
    elapsedS: round(elapsed, 3),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    tls: negotiated,
    cpuMsPerSession,
  };
}

async function metricSessions() {
  log(
    `sessions/s: implicit TLS connect + USER/PASS + QUIT, ${P.workers} parallel clients, ${P.seconds} s each`,
  );
  let vs;
  try {
    vs = await sessionRate(vsTarget(true), {}, P.seconds);
  } catch (err) {
    vs = { error: err.message };
  }
  let fd;
  try {
    fd = await withFerry('sessions', {}, (ferry) => sessionRate(ferryTarget(ferry, true), {}, P.seconds));
  } catch (err) {
    fd = { error: err.message };
  }
  const ok = (r) => (r.error || r.errors > 0 ? undefined : r.rate);
  row(
    'sessions_per_s',
    `sessions/s, implicit TLS connect+login+QUIT, ${P.workers} clients (default UserTable)`,
    'sessions/s',
    'higher',
    ok(fd),
    ok(vs),
    { ferry: fd, vsftpd: vs },
  );
  row(
    'sessions_cpu',
    `  server CPU per session (user+sys)`,
    'ms',
    'lower',
    fd.cpuMsPerSession,
    vs.cpuMsPerSession,
  );
  for (const [id, name, extra, tlsOptions, label] of [
    [
      'sessions_per_s_nocache',
      'sessions-no-login-cache',
      { loginCacheMs: 0 },
      {},
      'same, UserTable login cache off (scrypt N=16384 every login)',
    ],
    [
      'sessions_per_s_equal',
      'sessions-equal-work',
      { loginCacheMs: 0, scryptN: P.cheapScryptN },
      { maxVersion: 'TLSv1.2' },
      `same, cache off, scrypt N=${P.cheapScryptN}, TLS 1.2 (equal work)`,
    ],
  ]) {
    let fc;
    try {
      fc = await withFerry(name, extra, (ferry) =>
        sessionRate(ferryTarget(ferry, true), tlsOptions, P.seconds),
      );
    } catch (err) {
      fc = { error: err.message };
    }
    row(id, label, 'sessions/s', 'higher', ok(fc), ok(vs), { ferry: fc });
    row(
      `${id}_cpu`,
      `  server CPU per session (user+sys)`,
      'ms',
      'lower',
      fc.cpuMsPerSession,
      vs.cpuMsPerSession,
    );
  }
  notes.push(
    `sessions/s: every session logs in the same user with a full TLS handshake (no resumption). Ferry's default hash is scrypt N=16384 (~30 ms of CPU per check here); vsftpd's PAM pam_userdb checks a SHA-512 crypt hash (~2 ms) on every login. The first Ferry row is the default UserTable (current builds remember a successful login for 10 min, so repeated logins skip scrypt); the second turns that cache off (loginCacheMs: 0); the third also uses a scrypt N=${P.cheapScryptN} hash (~2 ms) and caps the client at TLS 1.2, i.e. the same work per login as vsftpd.`,
  );
}

const FTPLIB_MANY = path.join(BENCH_DIR, 'lib', 'ftplib_many.py');
const smallNames = () => Array.from({ length: P.files }, (_, i) => `f${String(i).padStart(5, '0')}`);

async function smallOnce(t) {
  const cfg = {
    host: HOST,
    port: t.port,
    user: t.user,
    password: t.password,
    dir: '/small',
    names: smallNames(),
    size: P.smallBytes,
    tlsMax: t.tlsMax ?? null,
  };
  const { result: r, cpuS } = await withServerCpu(t, async () =>
    check(
      await runProcess('/usr/bin/python3', [FTPLIB_MANY, JSON.stringify(cfg)], { timeoutMs: 900_000 }),
      `ftplib ${P.files} RETRs from ${t.name}`,
    ),
  );
  const out = JSON.parse(r.stdout);
  if (out.files !== P.files || out.bytes !== P.files * P.smallBytes) {
    throw new Error(
      `${t.name}: ${out.files} files, ${out.bytes} bytes; expected ${P.files} × ${P.smallBytes}`,
    );
  }
  const fps = P.files / out.loopSeconds;
  const cpuMsPerFile = (cpuS * 1000) / P.files; // includes the one login, negligible next to P.files RETRs
  log(
    `  ${t.name}: ${fps.toFixed(1)} files/s (${out.loopSeconds.toFixed(2)} s after login, ${out.tls}; ${out.reused}/${out.files} data connections resumed the control session; server CPU ${cpuMsPerFile.toFixed(2)} ms/file)`,
  );
  return { fps, seconds: out.loopSeconds, reused: out.reused, tls: out.tls, cpuMsPerFile };
}

async function tlsOfCurl(t) {
  const r = await curl(t, ['--verbose', '--output', '/dev/null', url(t, '/small/f00000')], 30_000);
  const m = /SSL connection using (\S+) \/ (\S+)/.exec(r.stderr);
  return m ? `${m[1]} ${m[2]}` : `unknown (curl exit ${r.code})`;
}

/** curl with several URLs on its command line: one control connection, one RETR each. */
async function curlMany(t, n, extra = []) {
  const urls = Array.from({ length: n }, (_, i) => url(t, `/small/f${String(i).padStart(5, '0')}`));
  const started = performance.now();
  const r = await curl(
    t,
    [...extra, '--write-out', '%{size_download}\n', ...urls.flatMap((u) => [u, '--output', '/dev/null'])],
    120_000,
  );
  const sizes = r.stdout.trim().split('\n').filter(Boolean).map(Number);
  const ok = sizes.filter((x) => x === P.smallBytes).length;
  const controls = new Set(r.stderr.match(/Connected to .*\(#\d+\)/g)?.map((l) => /#(\d+)/.exec(l)[1])).size;
  return {
    ok,
    n,
    code: r.code,
    seconds: (performance.now() - started) / 1000,
    stderr: r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('curl:'))
      .slice(0, 2)
      .join(' | '),
    controls,
  };
}

async function metricSmall() {
  log(`${P.files} RETRs of 16 KiB on one session (Python ftplib, session reuse), ${P.reps}×`);
  await withFerry('small', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], smallOnce);
    row(
      'small_files_per_s',
      `${P.files} × RETR 16 KiB on one session (ftplib${P.reps > 1 ? `, median of ${P.reps}` : ''})`,
      'files/s',
      'higher',
      median(samples.ferry.map((s) => s.fps)),
      median(samples.vsftpd.map((s) => s.fps)),
      { samples, errors },
    );
    row(
      'small_cpu',
      `  server CPU per file (user+sys; session login included)`,
      'ms',
      'lower',
      median(samples.ferry.map((s) => s.cpuMsPerFile)),
      median(samples.vsftpd.map((s) => s.cpuMsPerFile)),
    );
    // The same with Ferry's client capped at TLS 1.2 like vsftpd: TLS 1.3 resumption does an ECDHE
    // exchange per data connection, TLS 1.2 resumption does not.
    const f12 = await alternate([{ ...ferryTarget(ferry), tlsMax: '1.2' }], smallOnce);
    row(
      'small_files_per_s_tls12',
      `same, Ferry's client capped at TLS 1.2 (like vsftpd)`,
      'files/s',
      'higher',
      median(f12.samples.ferry.map((s) => s.fps)),
      median(samples.vsftpd.map((s) => s.fps)),
      f12,
    );
    row(
      'small_tls12_cpu',
      `  server CPU per file (user+sys)`,
      'ms',
      'lower',
      median(f12.samples.ferry.map((s) => s.cpuMsPerFile)),
      median(samples.vsftpd.map((s) => s.cpuMsPerFile)),
    );
    // What curl negotiates, and how curl fares with several files per connection on each server.
    tlsInfo.curlFerry = await tlsOfCurl(ferryTarget(ferry));
    tlsInfo.curlVsftpd = await tlsOfCurl(vsTarget());
    const r12 = await curl(
      { ...ferryTarget(ferry), curlTls: ['--tls-max', '1.2'] },
      ['--output', '/dev/null', url(ferryTarget(ferry), '/small/f00000')],
      30_000,
    );
    checks.push({
      check: 'curl --tls-max 1.2, one RETR from Ferry (requireSessionReuse on)',
      ok: r12.code === 0,
      detail: r12.code === 0 ? 'ok' : `curl exit ${r12.code}: ${r12.stderr.trim().replace(/\n/g, ' | ')}`,
    });
    for (const t of [ferryTarget(ferry), vsTarget()]) {
      const m = await curlMany(t, 10, ['--verbose']);
      checks.push({
        check: `curl, 10 RETRs of 16 KiB on one command line, ${t.name}`,
        ok: m.ok === m.n && m.controls === 1,
        detail: `${m.ok}/${m.n} transfers ok, ${m.controls} control connection(s), ${m.seconds.toFixed(2)} s${m.stderr ? `; ${m.stderr}` : ''}`,
      });
    }
  });
  notes.push(
    'Small files: measured with Python ftplib (a ReusingFTPS subclass passes the control TLS session to each data connection), not curl: curl 7.88 sends its data-connection ClientHello right after connecting, before RETR; vsftpd only accepts the data connection at RETR, so curl stalls ~200 ms per file there; and with Ferry curl cannot resume the control session on a second data connection (see the checks). Timed from after login to the last 226.',
  );
}

async function listOnce(t, mlsd) {
  const out = path.join(dirs.client, `list-${t.name}.txt`);
  try {
    const r = check(
      await curl(
        t,
        [
          ...(mlsd ? ['--request', 'MLSD'] : []),
          '--output',
          out,
          '--write-out',
          '%{time_total}',
          url(t, '/dir10k/'),
        ],
        300_000,
      ),
      `curl ${mlsd ? 'MLSD' : 'LIST'} on ${t.name}`,
    );
    const text = await readFile(out, 'latin1');
    const found = text.split('\n').filter((l) => /entry-\d{6}\.dat\r?$/.test(l)).length;
    if (found !== P.entries)
      throw new Error(`${mlsd ? 'MLSD' : 'LIST'} on ${t.name}: ${found} entries, expected ${P.entries}`);
    const seconds = Number(r.stdout.trim());
    log(`  ${mlsd ? 'MLSD' : 'LIST'} ${t.name}: ${seconds.toFixed(3)} s (${text.length} bytes)`);
    return seconds;
  } finally {
    await rm(out, { force: true });
  }
}

async function metricList() {
  log(`LIST (both) and MLSD (Ferry) of a ${P.entries}-entry directory (curl), ${P.reps}×`);
  await withFerry('list', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], (t) => listOnce(t, false));
    row(
      'list_s',
      `LIST of ${P.entries} entries (curl, time_total${P.reps > 1 ? `, median of ${P.reps}` : ''})`,
      's',
      'lower',
      median(samples.ferry),
      median(samples.vsftpd),
      { samples, errors },
    );
    const m = await alternate([ferryTarget(ferry)], (t) => listOnce(t, true));
    rows.push({
      id: 'mlsd_s',
      label: `MLSD of ${P.entries} entries (Ferry only: vsftpd has no MLSD)`,
      unit: 's',
      better: 'lower',
      ferry: median(m.samples.ferry),
      vsftpd: undefined,
      ratio: undefined,
      details: m,
      vsftpdText: 'no MLSD',
    });
  });
  notes.push(
    'Listings: vsftpd 3.0.3 has no MLSD/MLST, so LIST is compared; MLSD is measured for Ferry alone. curl time_total includes connect, TLS and login (a few ms).',
  );
}

async function openSessions(t, n, tlsOptions) {
  const sessions = [];
  const errors = [];
  let next = 0;
  const worker = async () => {
    while (next < n && errors.length < 20) {
      next++;
      try {
        const s = await ImplicitSession.connect({ host: HOST, port: t.port, tlsOptions, timeoutMs: 30_000 });
        sessions.push(s);
        await s.login(t.user, t.password);
      } catch (err) {
        errors.push(err.message);
      }
    }
  };
  await Promise.all(Array.from({ length: P.openConcurrency }, worker));
  return { sessions, errors };
}

async function closeSessions(sessions) {
  await inBatches(sessions, 64, async (s) => {
    try {
      await s.quit();
    } catch {
      s.destroy();
    }
  });
}

async function waitFor(cond, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await delay(100);
  }
  return false;
}

async function warmUp(t) {
  const { sessions, errors } = await openSessions(t, 8, {});
  await closeSessions(sessions);
  if (errors.length) throw new Error(`warm-up: ${errors[0]}`);
}

async function memoryFerry() {
  return withFerry('memory', {}, async (ferry) => {
    const t = ferryTarget(ferry, true);
    await warmUp(t);
    await delay(500);
    const before = await ferry.memory(true);
    const opened = performance.now();
    const { sessions, errors } = await openSessions(t, P.sessions, {});
    const openS = (performance.now() - opened) / 1000;
    try {
      if (errors.length)
        throw new Error(
          `${errors.length} session(s) failed to open/log in: ${errors.slice(0, 3).join(' | ')}`,
        );
      await delay(1000);
      const after = await ferry.memory(true);
      if (after.sessions !== P.sessions)
        throw new Error(`Ferry reports ${after.sessions} sessions, expected ${P.sessions}`);
      const per = (a, b) => (a - b) / P.sessions;
      const r = {
        pssKiB: per(after.pssKiB, before.pssKiB),
        rssKiB: per(after.rssKiB, before.rssKiB),
        heapUsedKiB: per(after.usage.heapUsed, before.usage.heapUsed) / 1024,
        externalKiB: per(after.usage.external, before.usage.external) / 1024,
        before: {
          pssKiB: before.pssKiB,
          rssKiB: before.rssKiB,
          heapUsed: before.usage.heapUsed,
          external: before.usage.external,
        },
        after: {
          pssKiB: after.pssKiB,
          rssKiB: after.rssKiB,
          heapUsed: after.usage.heapUsed,
          external: after.usage.external,
        },
        openSeconds: round(openS, 2),
      };
      log(
        `  ferry: ${r.pssKiB.toFixed(1)} KiB PSS/session, ${r.rssKiB.toFixed(1)} KiB RSS/session (V8 heap ${r.heapUsedKiB.toFixed(1)} KiB, external ${r.externalKiB.toFixed(1)} KiB), opened in ${openS.toFixed(1)} s`,
      );
      return r;
    } finally {
      await closeSessions(sessions);
    }
  });
}

async function memoryVsftpd() {
  const t = vsTarget(true);
  await warmUp(t);
  await waitFor(() => vsImplicit.processes().length === 1, 10_000);
  await delay(500);
  const before = memoryOfAll(vsImplicit.processes());
  const opened = performance.now();
  const { sessions, errors } = await openSessions(t, P.sessions, {});
  const openS = (performance.now() - opened) / 1000;
  try {
    if (errors.length)
      throw new Error(`${errors.length} session(s) failed to open/log in: ${errors.slice(0, 3).join(' | ')}`);
    // wait until the process count is stable (each session forks its helper processes at login)
    let last = -1;
    await waitFor(() => {
      const n = vsImplicit.processes().length;
      const stable = n === last;
      last = n;
      return stable;
    }, 10_000);
    await delay(1000);
    const pids = vsImplicit.processes();
    const after = memoryOfAll(pids);
    const r = {
      pssKiB: (after.pssKiB - before.pssKiB) / P.sessions,
      rssKiB: (after.rssKiB - before.rssKiB) / P.sessions,
      processes: after.count,
      processesPerSession: round((after.count - before.count) / P.sessions, 2),
      before,
      after,
      openSeconds: round(openS, 2),
    };
    log(
      `  vsftpd: ${r.pssKiB.toFixed(1)} KiB PSS/session, ${r.rssKiB.toFixed(1)} KiB RSS/session (${after.count} processes), opened in ${openS.toFixed(1)} s`,
    );
    return r;
  } finally {
    await closeSessions(sessions);
    await waitFor(() => vsImplicit.processes().length === 1, 30_000);
  }
}

async function metricMemory() {
  log(`memory per idle logged-in implicit TLS session at ${P.sessions} sessions`);
  let f;
  let v;
  try {
    f = await memoryFerry();
  } catch (err) {
    f = { error: err.message };
    log(`  ferry: FAILED: ${err.message}`);
  }
  try {
    v = await memoryVsftpd();
  } catch (err) {
    v = { error: err.message };
    log(`  vsftpd: FAILED: ${err.message}`);
  }
  row(
    'mem_pss_kib',
    `memory per idle TLS session at ${P.sessions} sessions (PSS delta / N)`,
    'KiB',
    'lower',
    f.pssKiB,
    v.pssKiB,
    { ferry: f, vsftpd: v },
  );
  row(
    'mem_rss_kib',
    `memory per idle TLS session at ${P.sessions} sessions (RSS delta / N)`,
    'KiB',
    'lower',
    f.rssKiB,
    v.rssKiB,
  );
  if (f.error || v.error)
    rows.at(-2).error = [f.error && `ferry: ${f.error}`, v.error && `vsftpd: ${v.error}`]
      .filter(Boolean)
      .join('; ');
  const perSession =
    v.processesPerSession !== undefined ? ` (${v.processesPerSession} processes per session here)` : '';
  notes.push(
    `Memory: Ferry runs in its own child process; the figure is (its RSS/PSS with ${P.sessions} logged-in idle sessions − before) / ${P.sessions}, each sample taken after a forced GC (--expose-gc) so it is retained memory, not garbage. vsftpd forks per session: the figure sums PSS (from /proc/PID/smaps_rollup: shared pages split among the processes sharing them) and RSS (counts shared pages once per process, so it overstates) over the listener and all its session processes${perSession}. Both after 8 warm-up sessions.`,
  );
}

// ------------------------------------------------------------------------------------------------
// output

const tlsInfo = {};
let loadBefore;
let distHash;

// ------------------------------------------------------------------------------------------------
// main

async function main() {
  requireTools();
  const fileLimit = ensureFileLimit(P.sessions * 3 + 512);

  const run = await prepareRun('ferry-bench-', { opts, cleanups, log });
  ({ loadBefore, distHash, cert } = run);
  const { buildNote } = run;
  dirs = { ...run.dirs, ferryData: path.join(run.dirs.tmp, 'ferry-data') }; // Ferry runs as root
  await prepareData(dirs.root);

  log('starting vsftpd (explicit and implicit instances)');
  vsExplicit = await startVsftpd({ root: dirs.root, certificate: cert, implicit: false });
  cleanups.push(() => vsExplicit.stop());
  vsImplicit = await startVsftpd({ root: dirs.root, certificate: cert, implicit: true });
  cleanups.push(() => vsImplicit.stop());

  const steps = {
    retr: metricRetr,
    stor: metricStor,
    sessions: metricSessions,
    small: metricSmall,
    list: metricList,
    memory: metricMemory,
  };
  await runMetrics(METRICS, steps, opts.only, (m, err) => failedRow(m, m, '', '', err));

  const versions = { ...(await report.toolVersions(CURL)), memTotalGiB: round(os.totalmem() / 2 ** 30, 1) };
  const header = [
    `Ferry vs vsftpd on loopback (${opts.quick ? 'quick' : 'full'} run: ${sizeLabel} files, ${P.sessions} sessions, ${P.files} small files, ${P.entries} entries)`,
    report.machineLine(versions, distHash, buildNote),
    `TLS: vsftpd capped at TLS 1.2 through OPENSSL_CONF (MaxProtocol = TLSv1.2, as test/support/peers.ts does), require_ssl_reuse=YES; Ferry: TLS 1.2–1.3, requireSessionReuse on.`,
    `     curl negotiated — Ferry: ${tlsInfo.curlFerry ?? 'n/a'}; vsftpd: ${tlsInfo.curlVsftpd ?? 'n/a'}. Same certificate (RSA 2048) for both.`,
    `Load average (1/5/15 min) before: ${loadBefore.join(' / ')}, after: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')} (other work on the machine skews the figures).`,
    `Server CPU rows (indented): user+system CPU time of the server's processes and threads during the measurement (vsftpd: listener + sessions, counted once reaped), from /proc/PID/stat; less sensitive to other load than the rates.`,
    `Ratio = Ferry/vsftpd; "better" says whether higher or lower numbers are better (throughput and rates: higher; time and memory: lower).`,
  ];
  const out = [...header, '', report.table(rows, 'vsftpd'), ''];
  for (const r of rows) if (r.error) out.push(`! ${r.label}: ${r.error.split('\n')[0]}`);
  for (const r of rows) {
    for (const [side, err] of Object.entries(r.details?.errors ?? {}))
      out.push(`! ${r.label}: ${side}: ${err.split('\n')[0]}`);
  }
  for (const c of checks) out.push(`${c.ok ? 'ok  ' : 'FAIL'} check: ${c.check}: ${c.detail}`);
  out.push('', ...notes.map((n) => `note: ${n}`));
  for (const [name, logs] of Object.entries(ferryLogs)) {
    for (const l of logs) out.push(`Ferry log (${name}): ${l.count} × ${l.key}`);
  }
  for (const [name, p] of Object.entries(profiles)) {
    out.push(
      '',
      `CPU profile of the Ferry child for "${name}" (${p.file}; ${p.totalMs.toFixed(0)} ms sampled over its whole life, ${p.busyMs.toFixed(0)} ms busy), self time as % of busy:`,
    );
    for (const f of p.top)
      out.push(`  ${String(f.pct).padStart(5)}%  ${String(f.ms).padStart(8)} ms  ${f.fn}`);
    out.push(`  Ferry's own functions, inclusive time as % of busy:`);
    for (const f of p.ferryInclusive)
      out.push(`  ${String(f.pct).padStart(5)}%  ${String(f.ms).padStart(8)} ms  ${f.fn}`);
  }
  console.log(out.join('\n'));

  await report.writeResults(
    path.join(RESULTS_DIR, 'latest.json'),
    {
      ...report.resultHead('run.mjs', opts.quick, P, versions, buildNote, distHash),
      openFilesLimit: fileLimit,
      loadAverage: { before: loadBefore, after: report.loadAverage() },
      tls: tlsInfo,
      rows,
      checks,
      notes,
      ferryLogs,
      profiles,
      durationS: round((performance.now() - t0) / 1000, 1),
    },
    log,
  );
}

await finish(main);
