// What every detail metric (metrics/*.mjs) gets from run.mjs: the parameters, the two servers, the
// results to add to. One object per run, made by detailContext(); nothing lives at module level.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startFerry } from '../lib/ferry.mjs';
import { BENCH_DIR, DIST_INDEX, RESULTS_DIR } from '../lib/paths.mjs';
import { cpuSecondsOfTree } from '../lib/procs.mjs';
import { topFunctions } from '../lib/profile.mjs';
import * as report from '../lib/report.mjs';
import { VSFTPD_LOGIN } from '../lib/vsftpd.mjs';
import { waitFor } from '../lib/waits.mjs';

const MiB = 1024 * 1024;

/** The big file's size for labels: `64 MiB`, `1 GiB`. */
export const sizeLabelOf = (P) =>
  P.bigBytes >= 1024 * MiB ? `${P.bigBytes / 1024 / MiB} GiB` : `${P.bigBytes / MiB} MiB`;

/**
 * `P`: sizes and counts; `profile`: --cpu-prof for the Ferry children; `log`, `cleanups`: from
 * runControl; `dirs`: { root, client, ferryData }; `cert`: { certFile, keyFile }; `vsftpd`: the
 * explicit and implicit instances.
 */
export function detailContext({ P, profile, log, cleanups, dirs, cert, vsftpd }) {
  const results = { rows: [], checks: [], notes: [], tlsInfo: {}, ferryLogs: {}, profiles: {} };
  const row = report.rowAdder(results.rows, 'vsftpd');

  /** Starts a fresh Ferry child for one metric, runs fn, stops it (and summarizes its CPU profile). */
  async function withFerry(name, extra, fn) {
    const profName = `ferry-${name}`;
    const cpuProfDir = profile ? path.join(RESULTS_DIR, 'profiles') : undefined;
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
      if (logs.length > 0) results.ferryLogs[name] = logs;
      if (cpuProfDir) {
        const file = path.join(cpuProfDir, `${profName}.cpuprofile`);
        if (existsSync(file))
          results.profiles[name] = { file: path.relative(BENCH_DIR, file), ...topFunctions(file) };
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

  const vsTarget = (implicit = false) => {
    const server = implicit ? vsftpd.implicit : vsftpd.explicit;
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

  /** Runs `fn(target, rep)` for each target, alternating, P.reps times; collects per side. */
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

  /** A row for a metric that failed as a whole. */
  function failedRow(id, label, unit, better, err, side = 'both') {
    results.rows.push({
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

  const sizeLabel = sizeLabelOf(P);
  return {
    P,
    log,
    dirs,
    vsftpd,
    sizeLabel,
    results,
    row,
    failedRow,
    withFerry,
    ferryTarget,
    vsTarget,
    withServerCpu,
    alternate,
  };
}
