// RETR of the big file over PROT P with curl: MB/s and the server's CPU per GiB.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { curl, url } from '../lib/curl.mjs';
import { check } from '../lib/run-process.mjs';
import { syncAll } from '../lib/setup.mjs';
import { median } from '../lib/stats.mjs';

async function retrOnce(ctx, t) {
  const { P, log, dirs, withServerCpu } = ctx;
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

export async function metricRetr(ctx) {
  const { P, log, row, alternate, withFerry, ferryTarget, vsTarget, sizeLabel } = ctx;
  log(`RETR ${sizeLabel} over PROT P (curl), ${P.reps}×`);
  const label = `RETR ${sizeLabel}, PROT P (curl${P.reps > 1 ? `, median of ${P.reps}` : ''})`;
  await withFerry('retr', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], (t) => retrOnce(ctx, t));
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
