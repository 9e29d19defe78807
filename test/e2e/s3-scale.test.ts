/**
 * S3 storage at size, against a real radosgw: a 200 MB upload and download with equal checksums
 * (also read back by the AWS SDK straight from the gateway), a listing of 10,000 objects, and two
 * Ferry servers on one bucket (one uploads, the other lists and downloads).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { S3Connection } from '../../src/storage/s3-connection.js';
import { S3Storage } from '../../src/storage/s3.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { secureLogin } from '../support/ftps-session.js';
import type { RawFtp } from '../support/raw-ftp.js';
import {
  assertNoLeaks,
  loggedIn,
  portOf,
  randomData,
  resourceCounts,
  sha256,
  startServer,
  withClients,
  type Mode,
} from './harness.js';

/** loggedIn() with room for 200 MB on a loaded machine (the default data timeout is 10 s). */
function patientLogin(ts: TestServer, mode: Mode): Promise<RawFtp> {
  const [port, implicit] = [portOf(ts, mode), mode === 'implicit'];
  const [user, password] = [ts.user, ts.password];
  return secureLogin({ host: ts.host, port, implicit, user, password, timeoutMs: 600_000, binary: false });
}

let cluster: CephBucket;
let bucket: string;
let admin: S3Client;
const servers: TestServer[] = [];
const connections: S3Connection[] = [];
let baseline: ReturnType<typeof resourceCounts>;

before(async () => {
  cluster = await startCephBucket('scale', {}, { memBytes: 2 * 1024 ** 3 });
  ({ bucket } = cluster);
  baseline = resourceCounts();
  // Not cluster.admin: this one's sockets are closed before the leak check, the gateway's after it.
  admin = cluster.ceph.client();
});
after(async () => {
  for (const s of servers) await s.close();
  for (const c of connections) c.close();
  admin?.destroy();
  await assertNoLeaks(baseline);
  await cluster?.close();
});

/** A Ferry server whose users live in the shared bucket under `<username>/`. */
async function ferryOnBucket(): Promise<TestServer> {
  const conn = cluster.connection();
  connections.push(conn);
  const ts = await startServer({
    storageFor: (p) => new S3Storage({ connection: conn, bucket, prefix: `${p.username}/` }),
  });
  servers.push(ts);
  return ts;
}

describe('S3 storage at size', { timeout: 900_000 }, () => {
  test('200 MB up and down through Ferry (explicit FTPS): equal checksums, and as the SDK reads it', async () => {
    const ts = await ferryOnBucket();
    const data = randomData(200 * 1024 * 1024);
    const sum = sha256(data);
    await withClients(async (track) => {
      const ftp = track(await patientLogin(ts, 'explicit'));
      await ftp.cmd('TYPE I', 200);
      const [, done] = await ftp.store('big.bin', data);
      assert.equal(done.code, 226);
      const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: 'alice/big.bin' }));
      const hash = createHash('sha256');
      for await (const chunk of r.Body as Readable) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), sum, 'the AWS SDK reads the same bytes');
      assert.equal(sha256(await ftp.retrieve('big.bin')), sum, 'RETR gives the same bytes');
      await ftp.cmd('DELE big.bin', 250);
    });
  });

  test('LIST, NLST and MLSD of 10,000 objects (implicit FTPS)', async () => {
    const ts = servers[0] ?? (await ferryOnBucket());
    const names = Array.from({ length: 10_000 }, (_, i) => `f${String(i).padStart(5, '0')}.txt`);
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(
        names
          .slice(i, i + 100)
          .map((n) => admin.send(new PutObjectCommand({ Bucket: bucket, Key: `alice/many/${n}`, Body: n }))),
      );
    }
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      const nlst = (await ftp.listing('NLST', 'many')).split('\r\n').filter(Boolean);
      assert.deepEqual(
        nlst.sort(),
        names.map((n) => `many/${n}`),
      );
      const list = (await ftp.listing('LIST', 'many')).split('\r\n').filter(Boolean);
      assert.equal(list.length, 10_000);
      assert.ok(
        list.every((l) => / 10 \w{3} [ \d]\d [ \d]\d:\d\d f\d{5}\.txt$/.test(l)),
        list[0],
      );
      const mlsd = (await ftp.listing('MLSD', 'many')).split('\r\n').filter(Boolean);
      assert.equal(mlsd.filter((l) => l.includes('type=file;')).length, 10_000);
    });
  });

  test('two Ferry servers on one bucket: one uploads, the other lists and downloads', async () => {
    const a = servers[0] ?? (await ferryOnBucket());
    const b = await ferryOnBucket();
    const data = randomData(12 * 1024 * 1024 + 1);
    await withClients(async (track) => {
      const up = track(await loggedIn(a, 'explicit'));
      const down = track(await loggedIn(b, 'implicit'));
      await up.cmd('TYPE I', 200);
      await down.cmd('TYPE I', 200);
      await up.cmd('MKD shared', 257);
      await up.store('shared/from-a.bin', data);
      assert.deepEqual((await down.listing('NLST', 'shared')).split('\r\n').filter(Boolean), [
        'shared/from-a.bin',
      ]);
      assert.equal(sha256(await down.retrieve('shared/from-a.bin')), sha256(data));
      await down.cmd('RNFR shared/from-a.bin', 350);
      await down.cmd('RNTO shared/renamed-by-b.bin', 250);
      assert.match(await up.listing('LIST', 'shared'), /renamed-by-b\.bin/);
    });
  });
});
