// Many small RETRs on one session (Python ftplib, TLS session reuse), plus curl checks.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { curl, url } from '../lib/curl.mjs';
import { BENCH_DIR, HOST } from '../lib/paths.mjs';
import { check, runProcess } from '../lib/run-process.mjs';
import { median } from '../lib/stats.mjs';

const FTPLIB_MANY = path.join(BENCH_DIR, 'lib', 'ftplib_many.py');
const smallNames = (P) => Array.from({ length: P.files }, (_, i) => `f${String(i).padStart(5, '0')}`);

async function smallOnce(ctx, t) {
  const { P, log, withServerCpu } = ctx;
  const cfg = {
    host: HOST,
    port: t.port,
    user: t.user,
    password: t.password,
    dir: '/small',
    names: smallNames(P),
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
async function curlMany(ctx, t, n, extra = []) {
  const { P } = ctx;
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

export async function metricSmall(ctx) {
  const { P, log, row, alternate, withFerry, ferryTarget, vsTarget } = ctx;
  log(`${P.files} RETRs of 16 KiB on one session (Python ftplib, session reuse), ${P.reps}×`);
  await withFerry('small', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], (t) => smallOnce(ctx, t));
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
    const f12 = await alternate([{ ...ferryTarget(ferry), tlsMax: '1.2' }], (t) => smallOnce(ctx, t));
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
    ctx.results.tlsInfo.curlFerry = await tlsOfCurl(ferryTarget(ferry));
    ctx.results.tlsInfo.curlVsftpd = await tlsOfCurl(vsTarget());
    const r12 = await curl(
      { ...ferryTarget(ferry), curlTls: ['--tls-max', '1.2'] },
      ['--output', '/dev/null', url(ferryTarget(ferry), '/small/f00000')],
      30_000,
    );
    ctx.results.checks.push({
      check: 'curl --tls-max 1.2, one RETR from Ferry (requireSessionReuse on)',
      ok: r12.code === 0,
      detail: r12.code === 0 ? 'ok' : `curl exit ${r12.code}: ${r12.stderr.trim().replace(/\n/g, ' | ')}`,
    });
    for (const t of [ferryTarget(ferry), vsTarget()]) {
      const m = await curlMany(ctx, t, 10, ['--verbose']);
      ctx.results.checks.push({
        check: `curl, 10 RETRs of 16 KiB on one command line, ${t.name}`,
        ok: m.ok === m.n && m.controls === 1,
        detail: `${m.ok}/${m.n} transfers ok, ${m.controls} control connection(s), ${m.seconds.toFixed(2)} s${m.stderr ? `; ${m.stderr}` : ''}`,
      });
    }
  });
  ctx.results.notes.push(
    'Small files: measured with Python ftplib (a ReusingFTPS subclass passes the control TLS session to each data connection), not curl: curl 7.88 sends its data-connection ClientHello right after connecting, before RETR; vsftpd only accepts the data connection at RETR, so curl stalls ~200 ms per file there; and with Ferry curl cannot resume the control session on a second data connection (see the checks). Timed from after login to the last 226.',
  );
}
