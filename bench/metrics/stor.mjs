// STOR of the big file over PROT P with curl: MB/s until 226, and until the file is durable.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { curl, url } from '../lib/curl.mjs';
import { check, runProcess } from '../lib/run-process.mjs';
import { syncAll } from '../lib/setup.mjs';
import { median } from '../lib/stats.mjs';

async function storOnce(ctx, t, rep) {
  const { P, log, dirs, withServerCpu } = ctx;
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

export async function metricStor(ctx) {
  const { P, log, row, alternate, withFerry, ferryTarget, vsTarget, sizeLabel } = ctx;
  log(`STOR ${sizeLabel} over PROT P (curl), ${P.reps}×`);
  const med = (xs, k) => median(xs.map((x) => x[k]));
  await withFerry('stor', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], (t, rep) =>
      storOnce(ctx, t, rep),
    );
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
  ctx.results.notes.push(
    'STOR: Ferry fsyncs the file (and its directory) before it sends 226; vsftpd does not. The second STOR row adds the time `sync FILE` takes right after curl exits, i.e. both servers at equal durability.',
  );
}
