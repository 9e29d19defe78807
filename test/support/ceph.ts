/**
 * A throw-away Ceph RADOS Gateway for the S3 tests: one monitor, one memstore OSD (data in RAM) and
 * radosgw on 127.0.0.1, started by ceph-cluster.sh in a temp dir on free loopback ports (about 6 s),
 * with one S3 user. stop() ends the daemons by PID (radosgw, then the OSD, then the monitor: radosgw
 * hangs on exit without them), waits until they are gone and removes the directory. Install the
 * packages with `bash scripts/setup-ceph.sh` (as root).
 *
 * scripts/test.sh starts one gateway for the whole run (shared-ceph.ts) and names it in
 * FERRY_TEST_CEPH: startCeph() then hands each suite that gateway (a bucket of its own each, the
 * names carry the PID) instead of starting a cluster (~5 s of CPU each), and its stop() leaves the
 * daemons running. A suite that freezes or kills the daemons asks for its own (`own`); a file run by
 * hand, without the variable, starts its own too.
 */
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { SUPPORT_DIR } from './clients.js';
import { freePorts } from './ports.js';
import { readStat } from './proc.js';

export interface CephGateway {
  readonly endpoint: string;
  readonly region: 'us-east-1';
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The daemons' PIDs (radosgw, OSD, monitor). */
  readonly pids: readonly number[];
  /** An AWS SDK client straight to the gateway (an independent reader for the tests). */
  client(): S3Client;
  /** Creates a bucket and returns its name. */
  bucket(prefix?: string): Promise<string>;
  /** Runs radosgw-admin on the cluster (a bucket quota: `quota set --quota-scope=bucket …`). */
  radosgwAdmin(args: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

const DAEMONS = ['client.rgw.s3', 'osd.0', 'mon.a'] as const;

async function pidsOf(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of DAEMONS) {
    const text = await readFile(path.join(dir, 'run', `${name}.pid`), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0) out.push(pid);
  }
  return out;
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z';
}

async function stopPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && alive(pid); i++) await delay(50); // a daemon's exit has no event here
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid); i++) await delay(50);
}

/** A running cluster: the directory its daemons run in and its gateway (FERRY_TEST_CEPH's JSON). */
export interface CephCluster {
  readonly dir: string;
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const SHARED_CEPH_ENV = 'FERRY_TEST_CEPH';

/** Starts a cluster in a new temp directory (ceph-cluster.sh) with one S3 user. */
export async function startCephCluster(memBytes = 2 * 1024 ** 3): Promise<CephCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-ceph-'));
  const [mon2, mon1, port] = (await freePorts(3)) as [number, number, number];
  const accessKeyId = `FERRY${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        'bash',
        [
          path.join(SUPPORT_DIR, 'ceph-cluster.sh'),
          dir,
          String(mon2),
          String(mon1),
          String(port),
          accessKeyId,
          secretAccessKey,
          String(memBytes),
        ],
        { timeout: 240_000, maxBuffer: 4 * 1024 * 1024 },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`starting Ceph failed: ${err.message}\n${stderr}`)) : resolve(),
      );
    });
  } catch (err) {
    await stopCephCluster(dir);
    throw err;
  }
  return { dir, endpoint: `http://127.0.0.1:${port}`, accessKeyId, secretAccessKey };
}

/** Ends the daemons of the cluster in `dir` by PID and removes the directory. */
export async function stopCephCluster(dir: string): Promise<void> {
  for (const pid of await pidsOf(dir)) await stopPid(pid);
  await rm(dir, { recursive: true, force: true });
}

/** The run's shared gateway (FERRY_TEST_CEPH), or a cluster of the caller's own (`own`, or none shared). */
export async function startCeph(opts: { memBytes?: number; own?: boolean } = {}): Promise<CephGateway> {
  const shared = process.env[SHARED_CEPH_ENV];
  if (shared !== undefined && shared !== '' && opts.own !== true) {
    const cluster = JSON.parse(shared) as CephCluster;
    return gateway(cluster, await pidsOf(cluster.dir), async () => {});
  }
  const cluster = await startCephCluster(opts.memBytes);
  return gateway(cluster, await pidsOf(cluster.dir), () => stopCephCluster(cluster.dir));
}

function radosgwAdmin(dir: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(
      'radosgw-admin',
      ['-c', path.join(dir, 'ceph.conf'), ...args],
      { timeout: 60_000 },
      (err, _o, stderr) =>
        err ? reject(new Error(`radosgw-admin ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(),
    ),
  );
}

/** The gateway's handle; `stop` ends what is the caller's to end (nothing, for the shared one). */
function gateway(
  { dir, endpoint, accessKeyId, secretAccessKey }: CephCluster,
  pids: readonly number[],
  stop: () => Promise<void>,
): CephGateway {
  const clients: S3Client[] = [];
  const client = (): S3Client => {
    const c = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.push(c);
    return c;
  };
  let buckets = 0;
  return {
    endpoint,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    pids,
    client,
    async bucket(prefix = 'ferry') {
      const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
      const name = `${prefix}-${process.pid}-${++buckets}`;
      await client().send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    radosgwAdmin: (args) => radosgwAdmin(dir, args),
    async stop() {
      for (const c of clients.splice(0)) c.destroy();
      await stop();
    },
  };
}
