#!/usr/bin/env node
// Ferry's FTPS client beside curl, both against ONE vsftpd (explicit FTPS, TLS required, PROT P), in
// one run: `npm run bench:client` (in bench/) or `node bench/client.mjs`. See README.md.
// Run as root (vsftpd switches users).
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from './lib/cli-args.mjs';
import { runningPeer } from './lib/harness.mjs';
import { BENCH_DIR, CURL, DIST_CLIENT, HOST, RESULTS_DIR, ROOT } from './lib/paths.mjs';
import { requireTools } from './lib/preflight.mjs';
import * as report from './lib/report.mjs';
import { check, runProcess } from './lib/run-process.mjs';
import { runControl } from './lib/run-control.mjs';
import { prepareRun, syncAll, warmCache, writeBigFile } from './lib/setup.mjs';
import { median, round } from './lib/stats.mjs';
import { PYTHON, startVsftpd, VSFTPD_LOGIN } from './lib/vsftpd.mjs';

const FERRY_CLIENT = path.join(BENCH_DIR, 'lib', 'ferry-client-run.mjs');
const NODE_FLOOR = path.join(BENCH_DIR, 'lib', 'node-floor-client.mjs');
const RUSAGE = path.join(BENCH_DIR, 'lib', 'rusage.py');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const METRICS = ['retr', 'stor', 'small', 'parallel', 'floor'];
/**
 * FERRY_BENCH_PEER=vsftpd|pureftpd: measure against that peer of the shared harness, already started
 * with `../shared/bench/peer start NAME` (its mode, port, data and certificate), instead of a vsftpd
 * of our own.
 */
const PEER = process.env.FERRY_BENCH_PEER ? runningPeer(process.env.FERRY_BENCH_PEER) : undefined;
const FERRY_CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PARALLEL = [1, 2, 4];

// ------------------------------------------------------------------------------------------------
// options

const USAGE = `usage: node client.mjs [--quick] [--no-build] [--only=${METRICS.join(',')}] [--reps=N] [--cap=S]
                      [--keep-temp]
  --quick      64 MiB files, 100 small files, 1 repetition, 20 s cap on the small-file runs
  --no-build   do not rebuild the root package even if dist/ looks stale
  --only=…     run only these metrics (comma-separated)
  --reps=N     repetitions of each transfer metric (median reported; default 3, quick 1)
  --cap=S      stop each small-file run after S seconds and report files/s over what completed
               (default 60, quick 20)
  --keep-temp  leave the temporary directory (data, configs) in place for inspection`;

const opts = parseArgs(process.argv.slice(2), {
  metrics: METRICS,
  usage: USAGE,
  ints: { '--cap=': 'capS' },
});
const P = opts.quick
  ? { bigBytes: 64 * MiB, files: 100, reps: 1, capS: 20, perProcessCapS: 5 }
  : { bigBytes: 1024 * MiB, files: 1_000, reps: 3, capS: 60, perProcessCapS: 10 };
if (opts.reps) P.reps = opts.reps;
if (opts.capS) P.capS = opts.capS;
P.smallBytes = 16 * 1024;
let sizeLabel = P.bigBytes >= GiB ? `${P.bigBytes / GiB} GiB` : `${P.bigBytes / MiB} MiB`;
const transferDeadlineS = 900;

const { t0, log, cleanups, runMetrics, finish } = runControl('client-bench', opts.quick ? 10 : 40);

// ------------------------------------------------------------------------------------------------
// helpers

let dirs;
let cert;
let vs;
let rusageSeq = 0;

/**
 * Runs a program under lib/rusage.py: wall time and the user+sys CPU of the process (all its
 * threads, from wait4). After `deadlineS` it gets SIGTERM (then SIGKILL); that is not an error here.
 */
async function measured(file, args, deadlineS, env) {
  const usageFile = path.join(dirs.tmp, `rusage-${++rusageSeq}.json`);
  const r = await runProcess(PYTHON, [RUSAGE, String(deadlineS), usageFile, '--', file, ...args], {
    timeoutMs: (deadlineS + 60) * 1000,
    env,
  });
  let usage;
  try {
    usage = JSON.parse(await readFile(usageFile, 'utf8'));
  } catch {
    usage = undefined;
  } finally {
    await rm(usageFile, { force: true });
  }
  return { ...r, usage, cpuS: usage ? usage.user + usage.sys : undefined };
}

const login = () =>
  PEER
    ? { user: PEER.user, password: PEER.password }
    : { user: VSFTPD_LOGIN.user, password: VSFTPD_LOGIN.password };
const implicit = () => PEER?.mode === 'implicit';
const url = (p) => `${implicit() ? 'ftps' : 'ftp'}://${HOST}:${vs.port}${p}`;
/** Where uploads go (a peer's root is not writable: its upload/ is). */
const UPLOAD_DIR = PEER ? 'upload' : '';
const curlBase = () => [
  '--disable',
  '--silent',
  '--show-error',
  '--ssl-reqd',
  '--cacert',
  cert.certFile,
  '--user',
  `${login().user}:${login().password}`,
  '--connect-timeout',
  '15',
];

/** Ferry's client in a child process (lib/ferry-client-run.mjs) under lib/rusage.py. */
async function ferryClient(cfg, deadlineS) {
  const r = await measured(
    process.execPath,
    [
      FERRY_CLIENT,
      JSON.stringify({
        distIndex: DIST_CLIENT,
        host: HOST,
        port: vs.port,
        ...login(),
        caFile: cert.certFile,
        security: implicit() ? 'implicit' : 'explicit',
        ...cfg,
      }),
    ],
    deadlineS,
    { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/tmp', NODE_OPTIONS: '' },
  );
  let out;
  try {
    out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  } catch {
    out = undefined;
  }
  if (r.code !== 0 || !out || out.error) {
    const why =
      out?.error ?? `exit ${r.code ?? r.signal}${r.usage?.stopped ? ` (stopped by ${r.usage.stopped})` : ''}`;
    const err = new Error(`Ferry client ${cfg.op}: ${why}`);
    err.details = {
      stdout: r.stdout.slice(-3000),
      stderr: r.stderr.slice(-3000),
      dialogue: out?.dialogue,
      stack: out?.stack,
      usage: r.usage,
    };
    throw err;
  }
  return { out, cpuS: r.cpuS, usage: r.usage };
}

async function curlMeasured(args, deadlineS) {
  return measured(CURL, [...curlBase(), ...args], deadlineS);
}

// ------------------------------------------------------------------------------------------------
// metrics

const rows = [];
const notes = [];
const failures = [];
const tlsInfo = {};
const row = report.rowAdder(rows, 'curl');

/** Runs `fn(side, rep)` for Ferry's client and curl, alternating, P.reps times. */
async function alternate(fn, reps = P.reps) {
  const samples = { ferry: [], curl: [] };
  const errors = {};
  for (let rep = 0; rep < reps; rep++) {
    for (const side of ['ferry', 'curl']) {
      if (errors[side]) continue;
      try {
        samples[side].push(await fn(side, rep));
      } catch (err) {
        errors[side] = { message: err.message, ...err.details };
        log(`  ${side}: FAILED: ${err.message.split('\n')[0]}`);
        failures.push({ side, message: err.message, details: err.details });
      }
    }
  }
  return { samples, errors };
}

let gib = P.bigBytes / GiB;

async function retrOnce(side) {
  await syncAll();
  const out = path.join(dirs.client, `retr-${side}.bin`);
  await rm(out, { force: true });
  try {
    let seconds;
    let cpuS;
    let extra = {};
    if (side === 'ferry') {
      const r = await ferryClient({ op: 'retr', remote: '/big.bin', local: out }, transferDeadlineS);
      seconds = r.out.seconds;
      cpuS = r.cpuS;
      tlsInfo.ferry ??= r.out.tls;
      extra = { transferSeconds: r.out.transferSeconds, cpuInProcessS: r.out.cpuInProcessS };
    } else {
      const r = await curlMeasured(
        ['--output', out, '--write-out', '%{size_download} %{time_total}', url('/big.bin')],
        transferDeadlineS,
      );
      check(r, 'curl RETR');
      seconds = Number(r.stdout.trim().split(' ')[1]);
      cpuS = r.cpuS;
    }
    const size = (await stat(out)).size;
    if (size !== P.bigBytes) throw new Error(`RETR (${side}): got ${size} bytes, expected ${P.bigBytes}`);
    const mbps = P.bigBytes / seconds / 1e6;
    log(
      `  RETR ${side}: ${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s; client CPU ${cpuS.toFixed(2)} s, size ok)`,
    );
    return { mbps, seconds, cpuPerGiB: cpuS / gib, ...extra };
  } finally {
    await rm(out, { force: true });
  }
}

async function storOnce(side, rep) {
  await syncAll();
  const name = path.posix.join(UPLOAD_DIR, `upload-${side}-${rep}.bin`);
  const target = path.join(dirs.root, name);
  const source = path.join(dirs.root, 'big.bin');
  try {
    let seconds;
    let cpuS;
    let extra = {};
    if (side === 'ferry') {
      const r = await ferryClient({ op: 'stor', local: source, remote: `/${name}` }, transferDeadlineS);
      seconds = r.out.seconds;
      cpuS = r.cpuS;
      extra = {
        transferSeconds: r.out.transferSeconds,
        cpuInProcessS: r.out.cpuInProcessS,
        reply: r.out.reply,
      };
    } else {
      const r = await curlMeasured(
        ['--upload-file', source, '--write-out', '%{size_upload} %{time_total}', url(`/${name}`)],
        transferDeadlineS,
      );
      check(r, 'curl STOR');
      seconds = Number(r.stdout.trim().split(' ')[1]);
      cpuS = r.cpuS;
    }
    const size = (await stat(target)).size;
    if (size !== P.bigBytes)
      throw new Error(`STOR (${side}): file on disk has ${size} bytes, expected ${P.bigBytes}`);
    const mbps = P.bigBytes / seconds / 1e6;
    log(
      `  STOR ${side}: ${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s; client CPU ${cpuS.toFixed(2)} s, size on disk ok)`,
    );
    return { mbps, seconds, cpuPerGiB: cpuS / gib, ...extra };
  } finally {
    await rm(target, { force: true });
  }
}

/**
 * A client's CPU for an upload of an empty file (start-up, TLS, login, one data connection), so
 * that the cost per GiB can also be shown without it (here Ferry's library ~0.2 s, curl ~0.02 s).
 */
async function emptyOnce(side) {
  const name = path.posix.join(UPLOAD_DIR, `empty-${side}.bin`);
  const source = path.join(dirs.tmp, 'empty.bin');
  await writeFile(source, '');
  try {
    if (side === 'ferry')
      return (await ferryClient({ op: 'stor', local: source, remote: `/${name}` }, 60)).cpuS;
    const r = await curlMeasured(['--upload-file', source, url(`/${name}`)], 60);
    check(r, 'curl STOR of an empty file');
    return r.cpuS;
  } finally {
    await rm(path.join(dirs.root, name), { force: true });
  }
}

let startCpu;
/** Each client's median CPU for an empty upload (measured once, alternating, 3 times each). */
async function startupCpu() {
  if (!startCpu) {
    const { samples } = await alternate(async (side) => ({ cpuS: await emptyOnce(side) }), 3);
    startCpu = {
      ferry: median(samples.ferry.map((x) => x.cpuS)),
      curl: median(samples.curl.map((x) => x.cpuS)),
    };
    log(
      `  start-up CPU (an empty upload): Ferry ${startCpu.ferry?.toFixed(3)} s, curl ${startCpu.curl?.toFixed(3)} s`,
    );
  }
  return startCpu;
}

const med = (xs, k) => median(xs.map((x) => x[k]));
const repsLabel = () => (P.reps > 1 ? `, median of ${P.reps}` : '');

/** One big-file transfer metric: its MB/s row and its client-CPU row. */
async function transferMetric(op, once, label) {
  log(`${op.toUpperCase()} ${sizeLabel} over PROT P, Ferry's client and curl, ${P.reps}×`);
  const { samples, errors } = await alternate(once);
  row(`${op}_mbps`, label, 'MB/s', 'higher', med(samples.ferry, 'mbps'), med(samples.curl, 'mbps'), {
    samples,
    errors,
  });
  row(
    `${op}_cpu`,
    '  client CPU per GiB (user+sys)',
    's/GiB',
    'lower',
    med(samples.ferry, 'cpuPerGiB'),
    med(samples.curl, 'cpuPerGiB'),
  );
  const start = await startupCpu();
  const net = (side) => {
    const cpu = med(samples[side], 'cpuPerGiB');
    return cpu === undefined || start[side] === undefined ? undefined : cpu - start[side] / gib;
  };
  row(
    `${op}_cpu_net`,
    '  the same less an empty upload (start-up)',
    's/GiB',
    'lower',
    net('ferry'),
    net('curl'),
  );
}
const metricRetr = () => transferMetric('retr', retrOnce, `RETR ${sizeLabel}, PROT P${repsLabel()}`);
const metricStor = () =>
  transferMetric('stor', storOnce, `STOR ${sizeLabel}, PROT P, until the 226${repsLabel()}`);

/** One transfer of big.bin by lib/node-floor-client.mjs; resolves with its client CPU in s/GiB. */
async function floorOnce(upload) {
  await syncAll();
  const local = upload ? path.join(dirs.root, 'big.bin') : path.join(dirs.client, 'retr-floor.bin');
  const remote = upload ? path.posix.join('/', UPLOAD_DIR, 'upload-floor.bin') : '/big.bin';
  const written = upload ? path.join(dirs.root, remote) : local;
  const what = `minimal Node.js ${upload ? 'upload' : 'download'}`;
  await rm(written, { force: true });
  try {
    const r = await measured(
      process.execPath,
      [
        NODE_FLOOR,
        JSON.stringify({
          host: HOST,
          port: vs.port,
          ...login(),
          caFile: cert.certFile,
          security: implicit() ? 'implicit' : 'explicit',
          remote,
          local,
          upload,
        }),
      ],
      transferDeadlineS,
      { PATH: '/usr/bin:/bin', HOME: '/tmp', NODE_OPTIONS: '' },
    );
    check(r, what);
    const size = (await stat(written)).size;
    if (size !== P.bigBytes) throw new Error(`${what}: got ${size} bytes`);
    log(`  ${what}: client CPU ${r.cpuS.toFixed(2)} s`);
    return r.cpuS / gib;
  } finally {
    await rm(written, { force: true });
  }
}

/**
 * The floor under any Node.js client: the same RETR and STOR by the least a Node program does
 * (lib/node-floor-client.mjs: 'data' events and writeSync, readSync and write), beside Ferry's
 * client and curl.
 */
async function metricFloor() {
  for (const upload of [false, true]) {
    log(`${upload ? 'STOR' : 'RETR'} ${sizeLabel}: a minimal Node.js FTPS client, ${P.reps}×`);
    const samples = [];
    for (let rep = 0; rep < P.reps; rep++) samples.push(await floorOnce(upload));
    const floor = median(samples);
    const row = rows.find((x) => x.id === (upload ? 'stor_cpu' : 'retr_cpu'));
    const versus = (v, name) => (v ? `, ${(floor / v).toFixed(2)}× ${name}` : '');
    const how = upload
      ? 'an upload of the same file (lib/node-floor-client.mjs: readSync of 1 MiB, write, drain, close_notify)'
      : "a download of the same file (lib/node-floor-client.mjs: 'data' events, one writeSync per chunk)";
    notes.push(
      `Floor: ${how}, no streams or checks, took ${floor.toFixed(2)} s/GiB of client CPU (median of ${P.reps})${versus(row?.curl, "curl's")}${versus(row?.ferry, "Ferry's client's")} in this run.`,
    );
  }
}

let peerSmallNames;
const smallNames = () =>
  peerSmallNames ?? Array.from({ length: P.files }, (_, i) => `f${String(i).padStart(5, '0')}`);

/** Files of exactly 16 KiB in dir (a transfer cut off by the cap is not counted). */
async function completeFiles(dir) {
  let n = 0;
  for (const name of await readdir(dir)) if ((await stat(path.join(dir, name))).size === P.smallBytes) n++;
  return n;
}

async function freshDir(name) {
  const dir = path.join(dirs.client, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  return dir;
}

async function smallFerry() {
  const outDir = await freshDir('small-ferry');
  try {
    const r = await ferryClient(
      { op: 'small', dir: '/small', names: smallNames(), outDir, capMs: P.capS * 1000 },
      P.capS + 120,
    );
    const onDisk = await completeFiles(outDir);
    if (onDisk !== r.out.files || r.out.bytes !== r.out.files * P.smallBytes)
      throw new Error(
        `Ferry client: reported ${r.out.files} files / ${r.out.bytes} bytes, ${onDisk} complete 16 KiB files on disk`,
      );
    const fps = r.out.files / r.out.loopSeconds;
    log(
      `  ferry: ${fps.toFixed(1)} files/s (${r.out.files}/${P.files} files in ${r.out.loopSeconds.toFixed(2)} s after login${r.out.capped ? `, capped at ${P.capS} s` : ''}; client CPU ${((r.cpuS * 1000) / r.out.files).toFixed(2)} ms/file)`,
    );
    return {
      fps,
      files: r.out.files,
      seconds: r.out.loopSeconds,
      capped: r.out.capped,
      cpuMsPerFile: (r.cpuS * 1000) / r.out.files,
      cpuInProcessMsPerFile: (r.out.cpuInProcessS * 1000) / r.out.files,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** All URLs on one curl command line: one control connection, one RETR (and data connection) each. */
async function smallCurl() {
  const outDir = await freshDir('small-curl');
  try {
    const urls = smallNames().map((n) => url(`/small/${n}`));
    const r = await curlMeasured(['--remote-name-all', '--output-dir', outDir, ...urls], P.capS);
    const stopped = r.usage?.stopped;
    if (!stopped) check(r, `curl with ${P.files} URLs`);
    const files = await completeFiles(outDir);
    if (files === 0) throw new Error(`curl: no file completed (${r.stderr.trim().slice(-500)})`);
    const seconds = r.usage.elapsed; // the whole process: start, connect, login, every transfer
    const fps = files / seconds;
    log(
      `  curl: ${fps.toFixed(1)} files/s (${files}/${P.files} files in ${seconds.toFixed(2)} s${stopped ? `, stopped at the ${P.capS} s cap` : ''}; ${((1000 * seconds) / files).toFixed(0)} ms/file; client CPU ${((r.cpuS * 1000) / files).toFixed(2)} ms/file)`,
    );
    return { fps, files, seconds, capped: Boolean(stopped), cpuMsPerFile: (r.cpuS * 1000) / files };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** One curl process per file (connect, TLS, login, RETR, QUIT each), for at most perProcessCapS. */
async function smallCurlPerProcess() {
  const outDir = await freshDir('small-curl1');
  try {
    const started = performance.now();
    const end = started + P.perProcessCapS * 1000;
    let files = 0;
    let cpuS = 0;
    for (const n of smallNames()) {
      if (performance.now() >= end) break;
      const r = await curlMeasured(['--output', path.join(outDir, n), url(`/small/${n}`)], 60);
      check(r, `curl RETR /small/${n}`);
      cpuS += r.cpuS;
      files++;
    }
    const seconds = (performance.now() - started) / 1000;
    const complete = await completeFiles(outDir);
    if (complete !== files) throw new Error(`curl per process: ${complete}/${files} files complete`);
    const fps = files / seconds;
    log(
      `  curl, one process per file: ${fps.toFixed(1)} files/s (${files} files in ${seconds.toFixed(2)} s; client CPU ${((cpuS * 1000) / files).toFixed(2)} ms/file)`,
    );
    return { fps, files, seconds, cpuMsPerFile: (cpuS * 1000) / files };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** What curl negotiates, and whether it keeps one control connection for several URLs. */
async function curlProbe() {
  const urls = smallNames()
    .slice(0, 5)
    .map((n) => url(`/small/${n}`));
  const r = await runProcess(
    CURL,
    [...curlBase(), '--verbose', ...urls.flatMap((u) => [u, '--output', '/dev/null'])],
    { timeoutMs: 60_000 },
  );
  const m = /SSL connection using (\S+) \/ (\S+)/.exec(r.stderr);
  tlsInfo.curl = m ? `${m[1]} ${m[2]}` : `unknown (curl exit ${r.code})`;
  const controls = new Set(r.stderr.match(/Connected to .*\(#\d+\)/g)?.map((l) => /#(\d+)/.exec(l)[1])).size;
  const reused = (r.stderr.match(/Re-using existing connection/gi) ?? []).length;
  return { code: r.code, controls, reused, wallS: r.wallMs / 1000 };
}

async function metricSmall() {
  log(`${P.files} × RETR 16 KiB on one control connection (cap ${P.capS} s per run)`);
  const probe = await curlProbe();
  log(
    `  curl probe, 5 URLs on one command line: exit ${probe.code}, ${probe.controls} control connection(s), ${probe.reused} reuse(s), ${probe.wallS.toFixed(2)} s`,
  );
  const f = { samples: [], errors: undefined };
  for (let rep = 0; rep < P.reps && !f.errors; rep++) {
    try {
      f.samples.push(await smallFerry());
    } catch (err) {
      f.errors = { message: err.message, ...err.details };
      failures.push({ side: 'ferry', message: err.message, details: err.details });
      log(`  ferry: FAILED: ${err.message.split('\n')[0]}`);
    }
  }
  let c;
  try {
    c = await smallCurl();
  } catch (err) {
    c = { error: err.message };
    failures.push({ side: 'curl', message: err.message });
    log(`  curl: FAILED: ${err.message.split('\n')[0]}`);
  }
  let c1;
  try {
    c1 = await smallCurlPerProcess();
  } catch (err) {
    c1 = { error: err.message };
    log(`  curl per process: FAILED: ${err.message.split('\n')[0]}`);
  }
  const fps = median(f.samples.map((s) => s.fps));
  row(
    'small_files_per_s',
    `${P.files} × RETR 16 KiB, one control connection${P.reps > 1 ? ` (Ferry: median of ${P.reps})` : ''}`,
    'files/s',
    'higher',
    fps,
    c.fps,
    { ferry: f, curl: c, curlProbe: probe },
  );
  row(
    'small_cpu',
    '  client CPU per file (user+sys)',
    'ms',
    'lower',
    median(f.samples.map((s) => s.cpuMsPerFile)),
    c.cpuMsPerFile,
  );
  row(
    'small_files_per_s_curl_per_process',
    `same, curl: one process (connect, login) per file`,
    'files/s',
    'higher',
    fps,
    c1.fps,
    { curl: c1 },
  );
  const capped = (x) => (x?.capped ? `stopped at the ${P.capS} s cap after ${x.files} files` : 'all files');
  notes.push(
    `Small files: Ferry's client does sequential get()s on one FerryClient (one control connection; ${capped(f.samples.at(-1))}), timed from after login to the last 226; curl gets all ${P.files} URLs on one command line (--remote-name-all; it reuses the control connection: ${probe.controls} control connection(s) for 5 URLs in the probe), timed over the whole process (${capped(c)}), files/s over the files completed; "one process per file" runs curl once per file for ~${P.perProcessCapS} s (${c1.files ?? 0} files). Both write the files to disk; only complete 16 KiB files are counted.`,
  );
  if (c.fps !== undefined) {
    const msPerFile = (1000 * c.seconds) / c.files;
    if (msPerFile >= 150)
      notes.push(
        `curl against vsftpd stalls ~${msPerFile.toFixed(0)} ms per file with all URLs on one command line (one control connection: ${probe.controls === 1 ? 'confirmed by the probe' : `the probe saw ${probe.controls}`}); bench/README.md's explanation: curl 7.88 sends its data-connection ClientHello right after connecting, before RETR, and vsftpd only accepts the data connection at RETR. This is curl's stall, measured as is; the small-file ratio is mostly that stall.`,
      );
    else
      notes.push(
        `curl with all URLs on one command line took ${msPerFile.toFixed(1)} ms per file (no ~200 ms stall seen this run).`,
      );
  }
}

/**
 * `ferry get 'URL/small/*' DIR --parallel N` (the CLI as a user runs it: one pattern, one process)
 * for N = 1, 2, 4: files/s and client CPU per file over the whole process.
 */
async function metricParallel() {
  log(`ferry get of ${P.files} × 16 KiB files by one pattern, --parallel ${PARALLEL.join(', ')}`);
  const scheme = implicit() ? 'ftps' : 'ftpes';
  const pattern = `${scheme}://${login().user}@${HOST}:${vs.port}/small/*`;
  for (const n of PARALLEL) {
    const outDir = await freshDir(`parallel-${n}`);
    try {
      const r = await measured(
        process.execPath,
        [FERRY_CLI, 'get', '--ca', cert.certFile, '--quiet', '--parallel', String(n), pattern, outDir],
        P.capS + 120,
        { PATH: '/usr/bin:/bin', HOME: '/tmp', FERRY_PASSWORD: login().password },
      );
      check(r, `ferry get --parallel ${n}`);
      const files = (await readdir(outDir)).length;
      const seconds = r.usage.elapsed;
      const fps = files / seconds;
      log(
        `  --parallel ${n}: ${fps.toFixed(1)} files/s (${files} files in ${seconds.toFixed(2)} s, whole process; client CPU ${((r.cpuS * 1000) / files).toFixed(2)} ms/file)`,
      );
      row(`parallel_${n}`, `ferry get 'small/*' --parallel ${n}`, 'files/s', 'higher', fps, undefined, {
        files,
        seconds,
        cpuMsPerFile: (r.cpuS * 1000) / files,
      });
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }
}

// ------------------------------------------------------------------------------------------------
// output

function ratioSummary() {
  const parts = [];
  const r = (id) => rows.find((x) => x.id === id);
  for (const [id, name] of [
    ['retr_mbps', 'RETR'],
    ['stor_mbps', 'STOR'],
    ['small_files_per_s', 'small files (curl, one command line)'],
    ['small_files_per_s_curl_per_process', 'small files (curl, one process per file)'],
  ]) {
    const x = r(id);
    if (x?.ratio !== undefined) parts.push(`${name} ${x.ratio.toFixed(2)}×`);
  }
  for (const [id, name] of [
    ['retr_cpu', 'RETR'],
    ['stor_cpu', 'STOR'],
  ]) {
    const x = r(id);
    if (x?.ratio !== undefined) parts.push(`client CPU/GiB ${name} ${x.ratio.toFixed(2)}× curl's`);
  }
  return parts.length ? `Ferry client / curl: ${parts.join('; ')}.` : 'No ratio could be computed.';
}

// ------------------------------------------------------------------------------------------------
// main

async function main() {
  requireTools();
  const run = await prepareRun('ferry-client-bench-', { opts, cleanups, log });
  ({ dirs, cert } = run);
  const { loadBefore, buildNote, distHash } = run;

  if (PEER) {
    log(
      `against the harness's ${PEER.name} (${PEER.mode} FTPS on port ${PEER.port}, its data and certificate)`,
    );
    dirs.root = PEER.data;
    cert = { certFile: PEER.certFile };
    vs = { port: PEER.port };
    P.bigBytes = (await stat(path.join(PEER.data, 'big.bin'))).size;
    gib = P.bigBytes / GiB;
    sizeLabel = `${(P.bigBytes / MiB).toFixed(0)} MiB`;
    peerSmallNames = (await readdir(path.join(PEER.data, 'small'))).sort().slice(0, P.files);
    await warmCache(path.join(dirs.root, 'big.bin'));
  } else {
    log(`writing a ${sizeLabel} file and ${P.files} × 16 KiB files …`);
    await writeBigFile(path.join(dirs.root, 'big.bin'), P.bigBytes);
    await mkdir(path.join(dirs.root, 'small'), { mode: 0o755 });
    for (const n of smallNames())
      await writeFile(path.join(dirs.root, 'small', n), randomBytes(P.smallBytes), { mode: 0o644 });
    await syncAll();
    await warmCache(path.join(dirs.root, 'big.bin'));

    log('starting vsftpd (explicit FTPS, one instance for both clients)');
    vs = await startVsftpd({ root: dirs.root, certificate: cert, implicit: false });
    cleanups.push(() => vs.stop());
  }

  const steps = {
    retr: metricRetr,
    stor: metricStor,
    small: metricSmall,
    parallel: metricParallel,
    floor: metricFloor,
  };
  await runMetrics(METRICS, steps, opts.only, (m, err) =>
    failures.push({ side: 'both', metric: m, message: err.message }),
  );

  const versions = await report.toolVersions(CURL);
  const loadAfter = report.loadAverage();
  const detail = (id) => rows.find((r) => r.id === id)?.details;
  const ip = [
    [median((detail('retr_mbps')?.samples.ferry ?? []).map((x) => x.cpuInProcessS / gib)), 's/GiB', 'RETR'],
    [median((detail('stor_mbps')?.samples.ferry ?? []).map((x) => x.cpuInProcessS / gib)), 's/GiB', 'STOR'],
    [
      median((detail('small_files_per_s')?.ferry.samples ?? []).map((x) => x.cpuInProcessMsPerFile)),
      'ms/file',
      'small files',
    ],
  ]
    .filter(([v]) => v !== undefined)
    .map(([v, unit, what]) => `${what} ${report.fmt(v, unit === 'ms/file' ? 'ms' : unit)} ${unit}`);
  if (ip.length)
    notes.push(
      `Ferry client CPU from connect to the last 226 only (process.cpuUsage in the child; Node start-up and module loading excluded): ${ip.join(', ')}.`,
    );
  notes.push(ratioSummary());
  const header = [
    `Ferry's FTPS client vs curl, both against one ${PEER ? `${PEER.name} of the shared harness (${PEER.mode} FTPS)` : 'vsftpd'} on loopback (${opts.quick ? 'quick' : 'full'} run: ${sizeLabel} files, ${P.files} small files)`,
    `${report.machineLine(versions, distHash, buildNote)}, Ferry and curl alternating`,
    `${PEER ? `${PEER.name}: as ../shared/bench/peer starts it` : 'vsftpd: explicit FTPS, TLS required on control and data, require_ssl_reuse=YES, TLS capped at 1.2'}. Negotiated — Ferry client: ${tlsInfo.ferry ?? 'n/a'}; curl: ${tlsInfo.curl ?? 'n/a'}. Both verify the certificate (Ferry: ca, curl: --cacert).`,
    `Load average (1/5/15 min) before: ${loadBefore.join(' / ')}, after: ${loadAfter.join(' / ')} (other work on the machine skews the rates; the CPU rows much less).`,
    `Ferry's client runs in its own Node process (lib/ferry-client-run.mjs); client CPU = user+sys of the whole client process from wait4 (lib/rusage.py), Node/curl start-up, connect and login included.`,
    `Rates: MB/s = 10^6 B/s over connect + login + transfer to the 226 (curl: time_total). Ratio = Ferry/curl; "better" says which direction is better.`,
  ];
  const out = [...header, '', report.table(rows, 'curl', 'Ferry client'), ''];
  for (const f of failures) {
    out.push(`! ${f.side}${f.metric ? ` (${f.metric})` : ''}: ${f.message.split('\n')[0]}`);
    if (f.details?.dialogue?.length) out.push(...f.details.dialogue.slice(-12).map((l) => `!    ${l}`));
  }
  out.push(...notes.map((n) => `note: ${n}`));
  console.log(out.join('\n'));

  await report.writeResults(
    path.join(RESULTS_DIR, 'client-latest.json'),
    {
      ...report.resultHead('client.mjs', opts.quick, P, versions, buildNote, distHash),
      loadAverage: { before: loadBefore, after: loadAfter },
      tls: tlsInfo,
      rows,
      failures,
      notes,
      durationS: round((performance.now() - t0) / 1000, 1),
    },
    log,
  );
  if (failures.length > 0) process.exitCode = 1;
}

await finish(main);
