// S3 benchmark (issue 13): Ferry in front of a real radosgw against the AWS SDK straight to it.
//   RETR and STOR of 1 GiB through Ferry (curl as the FTPS client, implicit FTPS, PROT P)
//     vs GetObject / PutObject of the same bytes by the AWS SDK (target: Ferry ≥ 0.8× the SDK's rate),
//     both with the same settings (checksums WHEN_REQUIRED, unsigned payload, path style); the CPU
//     seconds per GiB of Ferry's server process or of this process (the SDK client), and of the
//     gateway's daemons; each side's full garbage collections per transfer
//   RSS per concurrent upload: 4 uploads of 256 MiB at once, growth of the server's RSS over
//     its idle baseline, per upload (target ≤ 2 × part size + 1 MiB)
//   LIST of 10,000 objects through Ferry vs ListObjectsV2 pages by the SDK
//   Ferry runs as users run it: `ferry serve --workers 1` (one process, so its CPU and RSS are the
//   server's alone), storage.s3 in a config file, credentials from the AWS_* environment, a user
//   whose home is the bucket's `<name>/`. Two such servers run: one GET per download (s3.readAhead
//   0, the default) and ranged GETs (readAhead 1). The SDK runs in this process, with Node's defaults.
//   Ferry's rates are given twice: over the whole curl run (login and curl's wait included), and over
//   curl's transfer phase (time_total - time_pretransfer, how ../shared/bench rates curl).
//   Each transfer runs ROUNDS times (default 3), Ferry and the SDK alternating, so both see the same
//   minutes of a shared machine; the table gives the medians.
// Usage: npm --prefix .. run build && node s3.mjs [--quick]   (as root: starts its own Ceph cluster)
//   FERRY_DIST=DIR: the servers run DIR/src/cli/main.js (another build, for an A/B) instead of ../dist
import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, open, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { stopFerry } from './lib/ferry-cli.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { startCeph } = await dist('test/support/ceph.js');
const { FERRY_MAIN, bannerOf, ferryOk } = await dist('test/support/ferry-process.js');
const serverMain = process.env.FERRY_DIST
  ? path.resolve(process.env.FERRY_DIST, 'src/cli/main.js')
  : FERRY_MAIN;
const { freePort } = await dist('test/support/ports.js');
const { memoryOf, readStat } = await dist('test/support/proc.js');
const sdk = await import('@aws-sdk/client-s3');
const run = promisify(execFile);

const quick = process.argv.includes('--quick');
const SIZE = quick ? 256 * 1024 ** 2 : 1024 ** 3;
const PART = 8 * 1024 * 1024;
const MiB = 1024 * 1024;
const tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-s3-bench-'));
/** A file of `bytes` (a whole number of MiB), each MiB filled with its index. */
async function dataFile(name, bytes) {
  const f = path.join(tmp, name);
  const fh = await open(f, 'w');
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < bytes / MiB; i++) await fh.write(chunk.fill(i & 0xff));
  await fh.close();
  return f;
}
const file = await dataFile('data.bin', SIZE);
// The concurrent uploads send 256 MiB each (32 parts: long past the first two).
const concurrentFile = await dataFile('concurrent.bin', 256 * MiB);

// Each round stores 1 GiB by Ferry and 1 GiB by the SDK over the last round's objects, whose data
// radosgw frees only later (its garbage collection, 30 s here); then 4 × 256 MiB at once: 8 GiB
// leaves room for all of it.
const ceph = await startCeph({ memBytes: 8 * 1024 ** 3 });
const bucket = await ceph.bucket('bench');
const direct = ceph.client();
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const awsEnv = { AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey };

/** The servers started, stopped in the end whatever happened (stopFerry: SIGTERM, then SIGKILL). */
const servers = [];

/** `ferry serve --workers 1` on the bucket (readAhead as given), user alice/secret; its mark-compacts counted. */
async function serveS3(readAhead) {
  const dir = path.join(tmp, `ferry-${readAhead}`);
  const config = path.join(dir, 'ferry.yaml');
  const data = path.join(dir, 'data');
  await mkdir(dir);
  await writeFile(
    config,
    [
      'storage:',
      '  s3:',
      `    endpoint: ${ceph.endpoint}`,
      `    bucket: ${bucket}`,
      '    forcePathStyle: true',
      `    partSize: ${PART}`,
      `    readAhead: ${readAhead}`,
      '',
    ].join('\n'),
  );
  await ferryOk(
    ['users', 'add', 'alice', '--config', config, '--data-dir', data, '--password-stdin'],
    'secret\n',
    awsEnv,
  );
  const port = await freePort();
  const child = spawn(
    process.execPath,
    // As the `ferry` command runs it (its young generation), and --trace-gc to count its full GCs.
    [
      '--max-semi-space-size=4',
      '--trace-gc',
      serverMain,
      'serve',
      '--config',
      config,
      '--data-dir',
      data,
      '--allow-root',
      '--listen',
      '127.0.0.1',
      '--implicit-port',
      String(port),
      '--explicit-port',
      '0',
      '--workers',
      '1',
      '--log-level',
      'warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...awsEnv } },
  );
  servers.push(child);
  let markCompacts = 0;
  child.stdout.setEncoding('utf8').on('data', (d) => (markCompacts += d.split('Mark-Compact').length - 1));
  await bannerOf(child, 60_000);
  child.stderr.resume();
  return {
    pid: child.pid,
    url: (p) => `ftps://127.0.0.1:${port}/${p}`,
    markCompacts: () => markCompacts,
  };
}
const curlArgs = ['--silent', '--show-error', '--insecure', '--user', 'alice:secret'];
// curl's own clock: the transfer phase is time_total - time_pretransfer, as ../shared/bench rates
// curl (it leaves out the login and the ~0.2 s curl waits for a data handshake before RETR/STOR).
const TIMES = ['-w', '%{time_total} %{time_pretransfer}'];
const transferSecs = (stdout) => {
  const [total, pre] = String(stdout).trim().split(' ').map(Number);
  return total - pre;
};
const secs = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
// CPU seconds during one transfer, per GiB: of the side's own process (a Ferry server, or this
// process for the SDK) and of the gateway's daemons. curl (the FTPS client) is not counted.
const gatewayTicks = () => ceph.pids.reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0), 0);
// This process's full garbage collections (the SDK's side).
let fullGCs = 0;
const countGCs = (entries) => {
  for (const e of entries) if (e.detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR) fullGCs++;
};
const gcObserver = new PerformanceObserver((list) => countGCs(list.getEntries()));
gcObserver.observe({ entryTypes: ['gc'] });
const thisProcess = {
  cpuSeconds: () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1e6;
  },
  markCompacts: () => {
    countGCs(gcObserver.takeRecords());
    return fullGCs;
  },
};
const serverProcess = (server) => ({
  cpuSeconds: () => (readStat(server.pid)?.cpuTicks ?? 0) / 100,
  markCompacts: server.markCompacts,
});
const measure = async (side, fn) => {
  const c0 = side.cpuSeconds();
  const g0 = gatewayTicks();
  const f0 = side.markCompacts();
  let out;
  const wall = await secs(async () => (out = await fn()));
  const perGiB = 1024 ** 3 / SIZE;
  const phase = out?.stdout === undefined ? wall : transferSecs(out.stdout);
  return {
    wall,
    phase,
    cpu: (side.cpuSeconds() - c0) * perGiB,
    gw: ((gatewayTicks() - g0) / 100) * perGiB,
    gcs: side.markCompacts() - f0,
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
  // Two servers on the same objects: `ranged` reads with ranged GETs, `oneGet` with one GET per download.
  const ranged = await serveS3(1);
  const oneGet = await serveS3(0);
  const runs = { stor: [], put: [], retr: [], retr0: [], get: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // STOR: curl → Ferry → radosgw, then PutObject by the SDK of the same file.
    runs.stor.push(
      await measure(serverProcess(ranged), () =>
        run('curl', [...curlArgs, ...TIMES, '-T', file, ranged.url('stor.bin')]),
      ),
    );
    runs.put.push(
      await measure(thisProcess, () =>
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
      await measure(serverProcess(ranged), () =>
        run('curl', [...curlArgs, ...TIMES, '-o', '/dev/null', ranged.url('stor.bin')]),
      ),
    );
    runs.retr0.push(
      await measure(serverProcess(oneGet), () =>
        run('curl', [...curlArgs, ...TIMES, '-o', '/dev/null', oneGet.url('stor.bin')]),
      ),
    );
    runs.get.push(
      await measure(thisProcess, async () => {
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

  // RSS per concurrent upload: the server's growth over its idle baseline.
  const idle = memoryOf(ranged.pid).rssKiB;
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, memoryOf(ranged.pid).rssKiB)), 50);
  const N = 4;
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      run('curl', [...curlArgs, '-T', concurrentFile, ranged.url(`c${i}.bin`)], { maxBuffer: 1e6 }),
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
  const ferryList = await secs(() => run('curl', [...curlArgs, ranged.url('many/')], { maxBuffer: 64e6 }));
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
  for (const child of servers) await stopFerry(child);
  await ceph.stop();
  await rm(tmp, { recursive: true, force: true });
}
console.log(
  `S3 benchmark (${SIZE / MiB} MiB, part ${PART / MiB} MiB, medians of ${ROUNDS} rounds, load ${os.loadavg()[0].toFixed(2)})`,
);
console.log('| metric | Ferry | AWS SDK direct | Ferry/SDK |\n| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
