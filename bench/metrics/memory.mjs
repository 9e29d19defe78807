// Memory per idle logged-in TLS session: Ferry's child process, vsftpd's listener and session processes.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { ImplicitSession } from '../lib/ftp-client.mjs';
import { HOST } from '../lib/paths.mjs';
import { memoryOfAll } from '../lib/procs.mjs';
import { round } from '../lib/stats.mjs';
import { inBatches, waitFor } from '../lib/waits.mjs';

async function openSessions(ctx, t, n, tlsOptions) {
  const { P } = ctx;
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

async function warmUp(ctx, t) {
  const { sessions, errors } = await openSessions(ctx, t, 8, {});
  await closeSessions(sessions);
  if (errors.length) throw new Error(`warm-up: ${errors[0]}`);
}

async function memoryFerry(ctx) {
  const { P, log, withFerry, ferryTarget } = ctx;
  return withFerry('memory', {}, async (ferry) => {
    const t = ferryTarget(ferry, true);
    await warmUp(ctx, t);
    await delay(500);
    const before = await ferry.memory(true);
    const opened = performance.now();
    const { sessions, errors } = await openSessions(ctx, t, P.sessions, {});
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

async function memoryVsftpd(ctx) {
  const { P, log, vsTarget } = ctx;
  const t = vsTarget(true);
  await warmUp(ctx, t);
  await waitFor(() => ctx.vsftpd.implicit.processes().length === 1, 10_000);
  await delay(500);
  const before = memoryOfAll(ctx.vsftpd.implicit.processes());
  const opened = performance.now();
  const { sessions, errors } = await openSessions(ctx, t, P.sessions, {});
  const openS = (performance.now() - opened) / 1000;
  try {
    if (errors.length)
      throw new Error(`${errors.length} session(s) failed to open/log in: ${errors.slice(0, 3).join(' | ')}`);
    // wait until the process count is stable (each session forks its helper processes at login)
    let last = -1;
    await waitFor(() => {
      const n = ctx.vsftpd.implicit.processes().length;
      const stable = n === last;
      last = n;
      return stable;
    }, 10_000);
    await delay(1000);
    const pids = ctx.vsftpd.implicit.processes();
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
    await waitFor(() => ctx.vsftpd.implicit.processes().length === 1, 30_000);
  }
}

export async function metricMemory(ctx) {
  const { P, log, row } = ctx;
  log(`memory per idle logged-in implicit TLS session at ${P.sessions} sessions`);
  let f;
  let v;
  try {
    f = await memoryFerry(ctx);
  } catch (err) {
    f = { error: err.message };
    log(`  ferry: FAILED: ${err.message}`);
  }
  try {
    v = await memoryVsftpd(ctx);
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
    ctx.results.rows.at(-2).error = [f.error && `ferry: ${f.error}`, v.error && `vsftpd: ${v.error}`]
      .filter(Boolean)
      .join('; ');
  const perSession =
    v.processesPerSession !== undefined ? ` (${v.processesPerSession} processes per session here)` : '';
  ctx.results.notes.push(
    `Memory: Ferry runs in its own child process; the figure is (its RSS/PSS with ${P.sessions} logged-in idle sessions − before) / ${P.sessions}, each sample taken after a forced GC (--expose-gc) so it is retained memory, not garbage. vsftpd forks per session: the figure sums PSS (from /proc/PID/smaps_rollup: shared pages split among the processes sharing them) and RSS (counts shared pages once per process, so it overstates) over the listener and all its session processes${perSession}. Both after 8 warm-up sessions.`,
  );
}
