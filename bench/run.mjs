#!/usr/bin/env node
// Ferry vs vsftpd on loopback, one command: `npm run bench:detail` (in bench/) or `node bench/run.mjs`.
// See README.md for what is measured and how. Run as root (vsftpd switches users). Each metric is a
// module in metrics/ that gets the run's context (metrics/context.mjs); nothing lives at module level.
import { mkdir, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './lib/cli-args.mjs';
import { CURL, RESULTS_DIR } from './lib/paths.mjs';
import { requireTools } from './lib/preflight.mjs';
import { openFilesSoftLimit } from './lib/procs.mjs';
import * as report from './lib/report.mjs';
import { runControl } from './lib/run-control.mjs';
import { prepareRun, syncAll, warmCache, writeBigFile } from './lib/setup.mjs';
import { round } from './lib/stats.mjs';
import { startVsftpd } from './lib/vsftpd.mjs';
import { inBatches } from './lib/waits.mjs';
import { detailContext, sizeLabelOf } from './metrics/context.mjs';
import { metricList } from './metrics/list.mjs';
import { metricMemory } from './metrics/memory.mjs';
import { metricRetr } from './metrics/retr.mjs';
import { metricSessions } from './metrics/sessions.mjs';
import { metricSmall } from './metrics/small.mjs';
import { metricStor } from './metrics/stor.mjs';

const MiB = 1024 * 1024;
const STEPS = {
  retr: metricRetr,
  stor: metricStor,
  sessions: metricSessions,
  small: metricSmall,
  list: metricList,
  memory: metricMemory,
};
const METRICS = Object.keys(STEPS);

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

/** The parsed command line and the run's sizes and counts. */
function options(argv) {
  const opts = parseArgs(argv, {
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
  return { opts, P };
}

// ------------------------------------------------------------------------------------------------
// setup

async function prepareData(root, P, sizeLabel, log) {
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

function ensureFileLimit(needed, log) {
  const soft = openFilesSoftLimit();
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
// main

/** One run: setup, the chosen metrics, the table on stdout and results/latest.json. */
async function bench(opts, P, { t0, log, cleanups, runMetrics }) {
  requireTools();
  const fileLimit = ensureFileLimit(P.sessions * 3 + 512, log);

  const run = await prepareRun('ferry-bench-', { opts, cleanups, log });
  const { loadBefore, distHash, cert, buildNote } = run;
  const dirs = { ...run.dirs, ferryData: path.join(run.dirs.tmp, 'ferry-data') }; // Ferry runs as root
  const sizeLabel = sizeLabelOf(P);
  await prepareData(dirs.root, P, sizeLabel, log);

  log('starting vsftpd (explicit and implicit instances)');
  const vsExplicit = await startVsftpd({ root: dirs.root, certificate: cert, implicit: false });
  cleanups.push(() => vsExplicit.stop());
  const vsImplicit = await startVsftpd({ root: dirs.root, certificate: cert, implicit: true });
  cleanups.push(() => vsImplicit.stop());

  const ctx = detailContext({
    P,
    profile: opts.profile,
    log,
    cleanups,
    dirs,
    cert,
    vsftpd: { explicit: vsExplicit, implicit: vsImplicit },
  });
  const steps = Object.fromEntries(Object.entries(STEPS).map(([m, step]) => [m, () => step(ctx)]));
  await runMetrics(METRICS, steps, opts.only, (m, err) => ctx.failedRow(m, m, '', '', err));
  const { rows, checks, notes, tlsInfo, ferryLogs, profiles } = ctx.results;

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

async function main(argv) {
  const { opts, P } = options(argv);
  const control = runControl('bench', opts.quick ? 15 : 60);
  await control.finish(() => bench(opts, P, control));
}

await main(process.argv.slice(2));
