// S3 benchmark (issue 13): Ferry in front of a real radosgw against the AWS SDK straight to it.
//   RETR and STOR of 1 GiB through Ferry (curl as the FTPS client, implicit FTPS, PROT P)
//     vs GetObject / PutObject of the same bytes by the AWS SDK (target: Ferry ≥ 0.8× the SDK's rate),
//     both with the same settings (checksums WHEN_REQUIRED, unsigned payload, path style); and the CPU
//     seconds per GiB of this process (Ferry's server, or the SDK client) and of the gateway's daemons,
//     with this process's full garbage collections per transfer
//   RSS per concurrent upload: 4 uploads of the same file at once, growth of this process's RSS
//     (the server runs in it) over an idle baseline, per upload (target ≤ 2 × part size + 1 MiB)
//   LIST of 10,000 objects through Ferry vs ListObjectsV2 pages by the SDK
//   Ferry's rates are given twice: over the whole curl run (login and curl's wait included), and over
//   curl's transfer phase (time_total - time_pretransfer, how ../shared/bench rates curl).
//   Each transfer runs ROUNDS times (default 3), Ferry and the SDK alternating, so both see the same
//   minutes of a shared machine; the table gives the medians. RETR runs twice through Ferry: with
//   one GET per download (s3.readAhead 0, the default) and with ranged GETs (readAhead 1).
// Usage: npm --prefix .. run build && node s3.mjs [--quick]   (as root: starts its own Ceph cluster)
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { startCeph } = await dist('test/support/ceph.js');
const { startFerry } = await dist('test/support/ferry.js');
const { S3Connection, s3Settings } = await dist('src/storage/s3-connection.js');
const { S3Storage } = await dist('src/storage/s3.js');
const { memoryOf, readStat } = await dist('test/support/proc.js');
const sdk = await import('@aws-sdk/client-s3');
const run = promisify(execFile);

const quick = process.argv.includes('--quick');
const SIZE = quick ? 256 * 1024 ** 2 : 1024 ** 3;
const PART = 8 * 1024 * 1024;
const MiB = 1024 * 1024;
const tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-s3-bench-'));
const file = path.join(tmp, 'data.bin');
{
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < SIZE / MiB; i++) await fh.write(chunk.fill(i & 0xff));
  await fh.close();
}

// 1 GiB by Ferry and by the SDK, then 4 concurrent uploads of it: room for 6 GiB in the memstore
const ceph = await startCeph({ memBytes: 8 * 1024 ** 3 });
const bucket = await ceph.bucket('bench');
const direct = ceph.client();
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const connection = (readAhead) =>
  new S3Connection(
    s3Settings({
      endpoint: ceph.endpoint,
      forcePathStyle: true,
      accessKeyId: ceph.accessKeyId,
      secretAccessKey: ceph.secretAccessKey,
      partSize: PART,
      readAhead,
    }),
  );
const conn = connection(1);
const oneGet = connection(0);
// Two servers on the same objects: `ts` reads with ranged GETs, `ts0` with one GET per download.
const ts = await startFerry({
  storageFor: (p) => new S3Storage({ connection: conn, bucket, prefix: `${p.username}/` }),
});
const ts0 = await startFerry({
  storageFor: (p) => new S3Storage({ connection: oneGet, bucket, prefix: `${p.username}/` }),
});
const curlArgs = ['--silent', '--show-error', '--insecure', '--user', `${ts.user}:${ts.password}`];
const curlArgs0 = ['--silent', '--show-error', '--insecure', '--user', `${ts0.user}:${ts0.password}`];
// curl's own clock: the transfer phase is time_total - time_pretransfer, as ../shared/bench rates
// curl (it leaves out the login and the ~0.2 s curl waits for a data handshake before RETR/STOR).
const TIMES = ['-w', '%{time_total} %{time_pretransfer}'];
const transferSecs = (stdout) => {
  const [total, pre] = String(stdout).trim().split(' ').map(Number);
  return total - pre;
};
const url = (p) => `ftps://127.0.0.1:${ts.implicitPort}/${p}`;
const url0 = (p) => `ftps://127.0.0.1:${ts0.implicitPort}/${p}`;
const secs = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
// CPU seconds of this process (Ferry's server, or the SDK client: both run here), and of the
// gateway's daemons, during one transfer; per GiB. curl (the FTPS client) is not counted.
const gatewayTicks = () => ceph.pids.reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0), 0);
// Full garbage collections of this process per transfer: in some runs V8 keeps the old generation's
// limit low and a transfer's socket buffers set one off every ~15 MB, which doubles the CPU (README,
// Object storage); the count says which kind of run a CPU figure comes from.
let fullGCs = 0;
const countGCs = (entries) => {
  for (const e of entries) if (e.detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR) fullGCs++;
};
const gcObserver = new PerformanceObserver((list) => countGCs(list.getEntries()));
gcObserver.observe({ entryTypes: ['gc'] });
const measure = async (fn) => {
  const c0 = process.cpuUsage();
  const g0 = gatewayTicks();
  countGCs(gcObserver.takeRecords());
  const f0 = fullGCs;
  let out;
  const wall = await secs(async () => (out = await fn()));
  const c = process.cpuUsage(c0);
  countGCs(gcObserver.takeRecords());
  const perGiB = 1024 ** 3 / SIZE;
  const phase = out?.stdout === undefined ? wall : transferSecs(out.stdout);
  return {
    wall,
    phase,
    cpu: ((c.user + c.system) / 1e6) * perGiB,
    gw: ((gatewayTicks() - g0) / 100) * perGiB,
    gcs: fullGCs - f0,
  };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** The medians of ROUNDS runs (wall s, curl's transfer phase s, CPU s/GiB, gateway CPU s/GiB, full GCs). */
const medians = (runs) => ({
  wall: median(runs.map((r) => r.wall)),
  phase: median(runs.map((r) => r.phase)),
  cpu: median(runs.map((r) => r.cpu)),
  gw: median(runs.map((r) => r.gw)),
  gcs: median(runs.map((r) => r.gcs)),
});
const rate = (s) => `${(SIZE / MiB / s).toFixed(0)} MiB/s`;
const cpu = (m) => `${m.cpu.toFixed(2)} s/GiB (gateway ${m.gw.toFixed(2)}; ${m.gcs} full GCs)`;
const rows = [];
try {
  const runs = { stor: [], put: [], retr: [], retr0: [], get: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // STOR: curl → Ferry → radosgw, then PutObject by the SDK of the same file.
    runs.stor.push(await measure(() => run('curl', [...curlArgs, ...TIMES, '-T', file, url('stor.bin')])));
    runs.put.push(
      await measure(() =>
        direct.send(
          new sdk.PutObjectCommand({
            Bucket: bucket,
            Key: 'sdk.bin',
            Body: createReadStream(file),
            ContentLength: SIZE,
          }),
        ),
      ),
    );
    // RETR: radosgw → Ferry → curl (to /dev/null), ranged and in one GET; GetObject by the SDK.
    runs.retr.push(
      await measure(() => run('curl', [...curlArgs, ...TIMES, '-o', '/dev/null', url('stor.bin')])),
    );
    runs.retr0.push(
      await measure(() => run('curl', [...curlArgs0, ...TIMES, '-o', '/dev/null', url0('stor.bin')])),
    );
    runs.get.push(
      await measure(async () => {
        const r = await direct.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: 'sdk.bin' }));
        await pipeline(r.Body, new Writable({ write: (_c, _e, cb) => cb() }));
      }),
    );
  }
  const [ferryStor, sdkPut, ferryRetr, ferryRetr0, sdkGet] = [
    runs.stor,
    runs.put,
    runs.retr,
    runs.retr0,
    runs.get,
  ].map(medians);
  const pair = (name, f, d) => {
    rows.push([name, rate(f.wall), rate(d.wall), (d.wall / f.wall).toFixed(2)]);
    rows.push([`${name}, curl's transfer phase`, rate(f.phase), rate(d.wall), (d.wall / f.phase).toFixed(2)]);
    rows.push([`${name} CPU`, cpu(f), cpu(d), (f.cpu / d.cpu).toFixed(2)]);
  };
  pair('STOR 1 object', ferryStor, sdkPut);
  pair('RETR 1 object (ranged GETs, readAhead 1)', ferryRetr, sdkGet);
  pair('RETR 1 object (one GET, readAhead 0)', ferryRetr0, sdkGet);

  // RSS per concurrent upload (the server runs in this process).
  global.gc?.();
  const idle = memoryOf(process.pid).rssKiB;
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, memoryOf(process.pid).rssKiB)), 50);
  const N = 4;
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      run('curl', [...curlArgs, '-T', file, url(`c${i}.bin`)], { maxBuffer: 1e6 }),
    ),
  );
  clearInterval(sampler);
  const perUpload = (peak - idle) / 1024 / N;
  rows.push([
    'RSS per concurrent upload',
    `${perUpload.toFixed(1)} MiB`,
    `target ≤ ${(2 * PART + MiB) / MiB} MiB`,
    '',
  ]);

  // LIST of 10,000 objects.
  const names = Array.from({ length: 10_000 }, (_, i) => `alice/many/f${String(i).padStart(5, '0')}`);
  for (let i = 0; i < names.length; i += 100)
    await Promise.all(
      names
        .slice(i, i + 100)
        .map((Key) => direct.send(new sdk.PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }))),
    );
  const ferryList = await secs(() => run('curl', [...curlArgs, url('many/')], { maxBuffer: 64e6 }));
  const sdkList = await secs(async () => {
    let token;
    do {
      const r = await direct.send(
        new sdk.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: 'alice/many/',
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  });
  rows.push([
    'LIST 10,000 objects',
    `${ferryList.toFixed(2)} s`,
    `${sdkList.toFixed(2)} s`,
    (sdkList / ferryList).toFixed(2),
  ]);
} finally {
  gcObserver.disconnect();
  await ts.close();
  await ts0.close();
  conn.close();
  oneGet.close();
  await ceph.stop();
  await rm(tmp, { recursive: true, force: true });
}
console.log(
  `S3 benchmark (${SIZE / MiB} MiB, part ${PART / MiB} MiB, medians of ${ROUNDS} rounds, load ${os.loadavg()[0].toFixed(2)})`,
);
console.log('| metric | Ferry | AWS SDK direct | Ferry/SDK |\n| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
