// LIST (both servers) and MLSD (Ferry only) of a big directory with curl.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { curl, url } from '../lib/curl.mjs';
import { check } from '../lib/run-process.mjs';
import { median } from '../lib/stats.mjs';

async function listOnce(ctx, t, mlsd) {
  const { P, log, dirs } = ctx;
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

export async function metricList(ctx) {
  const { P, log, row, alternate, withFerry, ferryTarget, vsTarget } = ctx;
  log(`LIST (both) and MLSD (Ferry) of a ${P.entries}-entry directory (curl), ${P.reps}×`);
  await withFerry('list', {}, async (ferry) => {
    const { samples, errors } = await alternate([ferryTarget(ferry), vsTarget()], (t) =>
      listOnce(ctx, t, false),
    );
    row(
      'list_s',
      `LIST of ${P.entries} entries (curl, time_total${P.reps > 1 ? `, median of ${P.reps}` : ''})`,
      's',
      'lower',
      median(samples.ferry),
      median(samples.vsftpd),
      { samples, errors },
    );
    const m = await alternate([ferryTarget(ferry)], (t) => listOnce(ctx, t, true));
    ctx.results.rows.push({
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
  ctx.results.notes.push(
    'Listings: vsftpd 3.0.3 has no MLSD/MLST, so LIST is compared; MLSD is measured for Ferry alone. curl time_total includes connect, TLS and login (a few ms).',
  );
}
