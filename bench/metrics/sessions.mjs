// Sessions per second: implicit TLS connect + login + QUIT in a loop, with and without the login cache.
import { performance } from 'node:perf_hooks';
import { ImplicitSession } from '../lib/ftp-client.mjs';
import { HOST } from '../lib/paths.mjs';
import { cpuSecondsOfTree } from '../lib/procs.mjs';
import { percentile, round } from '../lib/stats.mjs';
import { withTimeout } from '../lib/waits.mjs';

/** Implicit TLS connect + login + QUIT in a loop on `workers` parallel clients for `seconds`. */
async function sessionRate(ctx, t, tlsOptions, seconds) {
  const { P, log } = ctx;
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

export async function metricSessions(ctx) {
  const { P, log, row, withFerry, ferryTarget, vsTarget } = ctx;
  log(
    `sessions/s: implicit TLS connect + USER/PASS + QUIT, ${P.workers} parallel clients, ${P.seconds} s each`,
  );
  let vs;
  try {
    vs = await sessionRate(ctx, vsTarget(true), {}, P.seconds);
  } catch (err) {
    vs = { error: err.message };
  }
  let fd;
  try {
    fd = await withFerry('sessions', {}, (ferry) =>
      sessionRate(ctx, ferryTarget(ferry, true), {}, P.seconds),
    );
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
        sessionRate(ctx, ferryTarget(ferry, true), tlsOptions, P.seconds),
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
  ctx.results.notes.push(
    `sessions/s: every session logs in the same user with a full TLS handshake (no resumption). Ferry's default hash is scrypt N=16384 (~30 ms of CPU per check here); vsftpd's PAM pam_userdb checks a SHA-512 crypt hash (~2 ms) on every login. The first Ferry row is the default UserTable (current builds remember a successful login for 10 min, so repeated logins skip scrypt); the second turns that cache off (loginCacheMs: 0); the third also uses a scrypt N=${P.cheapScryptN} hash (~2 ms) and caps the client at TLS 1.2, i.e. the same work per login as vsftpd.`,
  );
}
