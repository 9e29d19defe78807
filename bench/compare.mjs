#!/usr/bin/env node
// `npm run bench`: Ferry (started by its CLI) side by side with vsftpd, ProFTPD, Pure-FTPd and
// pyftpdlib, measured by the shared harness (../shared/bench: the C client on OpenSSL, curl, Python)
// exactly as the issues' figures are, then one markdown table with the ratio Ferry / best peer, and
// beside it the least a Node.js server does for the same tests (lib/node-floor-ftps.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { buildIfNeeded } from './lib/build.mjs';
import { startFerry, stopFerry } from './lib/ferry-cli.mjs';
import { findHarness, workDir } from './lib/harness.mjs';
import { BENCH_DIR, RESULTS_DIR, ROOT } from './lib/paths.mjs';
import { median } from './lib/stats.mjs';

const USAGE = `usage: npm run bench [-- PEER ...]     (default peers: pureftpd vsftpd proftpd pyftpdlib)
environment: ROUNDS (default 3), TESTS (subset of the harness's tests), FERRY_BENCH_HARNESS (the
harness folder, default ../shared/bench beside the repository), FERRY_BENCH_PORT (Ferry's implicit
port, default 22500; explicit +1, passive +10..+99; the Node.js floor +100), FERRY_ARGS (extra
"ferry serve" flags), FERRY_BENCH_FLOOR=0 (leave out the Node.js floor)`;

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/** Runs the harness's `compare` with Ferry as EXTERNAL; resolves when it exits. */
async function runCompare(harness, peers, out, external) {
  const child = spawn(path.join(harness, 'compare'), peers, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, OUT: out, EXTERNAL: external },
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`compare exited with ${code}`);
}

// Metrics where less is better (the rest: more is better); informational ones get no ratio.
const LOWER = /(latency|_cpu|list_10k|mlsd_10k|conc_open_time|conc_rss|conc_pss|errors)/;
const NO_RATIO = /^(loadavg1|conc_server_procs|small_files_resumed|retr_protp_curl_overall|list_10k_lines)$/;

/** Medians per metric and server from compare's raw files (`<label>.r<N>.txt`: `metric value unit`). */
function readResults(out) {
  const values = new Map();
  const units = new Map();
  const labels = readFileSync(path.join(out, 'order'), 'utf8').split('\n').filter(Boolean);
  for (const file of readdirSync(out)) {
    const m = /^(.+)\.r\d+\.txt$/.exec(file);
    if (!m) continue;
    for (const line of readFileSync(path.join(out, file), 'utf8').split('\n')) {
      const [metric, value, unit, extra] = line.trim().split(/\s+/);
      const x = Number(value);
      if (extra !== undefined || !unit || !metric || !Number.isFinite(x) || /\.(min|max)$/.test(metric))
        continue;
      const perLabel = values.get(metric) ?? new Map();
      perLabel.set(m[1], [...(perLabel.get(m[1]) ?? []), x]);
      values.set(metric, perLabel);
      units.set(metric, unit);
    }
  }
  return { labels, values, units };
}

const fmt = (x) =>
  x === undefined
    ? 'n/a'
    : Number.isInteger(x)
      ? String(x)
      : Math.abs(x) >= 100
        ? x.toFixed(0)
        : Math.abs(x) >= 10
          ? x.toFixed(1)
          : x.toFixed(Math.abs(x) >= 0.1 ? 2 : 3);

/**
 * The table: medians, then Ferry / best peer (for "lower is better" rows > 1 means Ferry is slower),
 * and Ferry / the Node.js floor where it ran (never counted as a peer).
 */
function table({ labels, values, units }, ferry, floor) {
  const peers = labels.filter((l) => l !== ferry && l !== floor);
  const hasFloor = labels.includes(floor);
  const shown = [...peers, ferry, ...(hasFloor ? [floor] : [])];
  const lines = [
    `| metric | unit | ${shown.join(' | ')} | Ferry / best | better |${hasFloor ? ' Ferry / floor |' : ''}`,
    `|---|---|${'---|'.repeat(shown.length + 2 + (hasFloor ? 1 : 0))}`,
  ];
  for (const [metric, perLabel] of values) {
    if (metric === 'loadavg1') continue;
    const med = (l) => (perLabel.get(l) ? median(perLabel.get(l)) : undefined);
    const lower = LOWER.test(metric);
    const peerValues = peers.map(med).filter((x) => x !== undefined);
    const best =
      peerValues.length === 0 ? undefined : lower ? Math.min(...peerValues) : Math.max(...peerValues);
    const own = med(ferry);
    const ratioTo = (x) => (NO_RATIO.test(metric) || own === undefined || !x ? '' : (own / x).toFixed(2));
    const cells = shown.map((l) => fmt(med(l)));
    const better = NO_RATIO.test(metric) ? '' : lower ? 'lower' : 'higher';
    lines.push(
      `| ${metric} | ${units.get(metric)} | ${cells.join(' | ')} | ${ratioTo(best)} | ${better} |${hasFloor ? ` ${ratioTo(med(floor))} |` : ''}`,
    );
  }
  return lines.join('\n');
}

/**
 * The least a Node.js FTPS server does for the same tests (lib/node-floor-ftps.mjs), in as many
 * processes as Ferry's default (a primary and one worker per core).
 */
async function startFloor(w, port) {
  const child = spawn(
    process.execPath,
    [
      path.join(BENCH_DIR, 'lib', 'node-floor-ftps.mjs'),
      String(port),
      path.join(w, '.state', 'cert.pem'),
      path.join(w, '.state', 'key.pem'),
      path.join(w, 'data'),
      String(os.availableParallelism()),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`node-floor exited (${code})`);
    }),
  ]);
  log(`node-floor (pid ${child.pid}): ${line}`);
  return child;
}

async function main() {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const harness = findHarness();
  const w = workDir(harness);
  if (!existsSync(path.join(w, '.state', 'ftpsc')) || !existsSync(path.join(w, 'data', 'big.bin'))) {
    log(`running ${harness}/setup (packages, peers, account bench/bench, certificate, data) …`);
    const r = spawnSync(path.join(harness, 'setup'), { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`setup failed (${r.status})`);
  }
  log(await buildIfNeeded(ROOT, log));
  const peers = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const port = Number(process.env.FERRY_BENCH_PORT ?? 22500);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = path.join(RESULTS_DIR, `compare-${stamp}`);
  mkdirSync(out, { recursive: true });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-data-'));
  const ferry = await startFerry(w, {
    port,
    pasv: `${port + 10}-${port + 99}`,
    dataDir,
    args: (process.env.FERRY_ARGS ?? '').split(/\s+/).filter(Boolean),
  });
  const floor = process.env.FERRY_BENCH_FLOOR === '0' ? undefined : await startFloor(w, port + 100);
  const stop = () => {
    void stopFerry(ferry);
    if (floor) void stopFerry(floor);
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    log(
      `Ferry (pid ${ferry.pid}) on 127.0.0.1:${port}; ${harness}/compare ${peers.join(' ') || '(all peers)'}, ROUNDS=${process.env.ROUNDS ?? 3}`,
    );
    const externals = [`ferry:127.0.0.1:${port}:implicit:${ferry.pid}`];
    if (floor) externals.push(`node-floor:127.0.0.1:${port + 100}:implicit:${floor.pid}`);
    await runCompare(harness, peers, out, externals.join(' '));
  } finally {
    await stopFerry(ferry);
    if (floor) await stopFerry(floor);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const result = table(readResults(out), 'ferry', 'node-floor');
  const header = `Ferry vs peers, ${harness}/compare, ROUNDS=${process.env.ROUNDS ?? 3}${process.env.TESTS ? `, TESTS="${process.env.TESTS}"` : ''}, load before: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
  writeFileSync(path.join(out, 'ferry-table.md'), `${header}\n\n${result}\n`);
  process.stdout.write(`${header}\n\n${result}\n\nraw results: ${out}\n`);
}

main().catch((err) => {
  log(`error: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
