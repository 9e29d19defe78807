/**
 * A gateway that stops answering (radosgw frozen with SIGSTOP) during a transfer: the data idle
 * timeout then finds the server, not the client, holding the transfer up, and the client gets
 * 451 (storage), in time, never 426 (its connection) or no reply at all; a failed upload replaces
 * nothing. Listings too. On a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Connection } from '../../src/storage/s3-connection.js';
import { LIST_PAGE } from '../../src/storage/s3-listing.js';
import type { CephGateway } from '../support/ceph.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { writeAll } from '../support/raw-ftp.js';
import { loggedIn, randomData, textOf, waitForLog, withClients } from './harness.js';
import { serveAliceOn } from './s3-alice-server.js';

const IDLE_MS = 1_000;
let cluster: CephBucket;
let ceph: CephGateway;
let bucket: string;
let admin: S3Client;
let conn: S3Connection;
let ts: TestServer;
let rgw: number;

before(async () => {
  // Its own cluster: the gateway it freezes is no other suite's.
  cluster = await startCephBucket('frozen', { maxAttempts: 1 }, { own: true });
  ({ ceph, conn, admin, bucket } = cluster);
  const found = ceph.pids.find((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'radosgw');
  assert.ok(found, 'the radosgw process');
  rgw = found;
  ts = await serve();
});
// A test that failed must not leave the gateway frozen for the next one.
afterEach(() => process.kill(rgw, 'SIGCONT'));
after(async () => {
  await ts?.close();
  await cluster?.close();
});

/** Alice's server on the bucket; each has its own budget of `storage unavailable` warnings (5 a minute). */
async function serve(): Promise<TestServer> {
  return serveAliceOn({ conn, bucket }, { timeouts: { dataIdleMs: IDLE_MS } });
}

const freeze = (): void => void process.kill(rgw, 'SIGSTOP');
const thaw = (): void => void process.kill(rgw, 'SIGCONT');

async function object(key: string): Promise<Buffer> {
  const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: `alice/${key}` }));
  return Buffer.from((await r.Body?.transformToByteArray()) ?? []);
}

const unavailableLogged = (from: number, server = ts): ReturnType<typeof waitForLog> =>
  waitForLog(server, (l) => l.level === 'warn' && l.msg.startsWith('storage unavailable'), from);

test('an upload all sent, its gateway frozen before the object is made: 451, the old object stays', async () => {
  await admin.send(new PutObjectCommand({ Bucket: bucket, Key: 'alice/ended.bin', Body: 'OLD' }));
  await withClients(async (track) => {
    const ftp = track(await loggedIn(ts, 'explicit'));
    await ftp.cmd('TYPE I', 200);
    const plain = await ftp.openData(await ftp.epsv(), { tls: false });
    await ftp.cmd('STOR ended.bin', 150);
    const data = await ftp.secureData(plain);
    const from = ts.logs.length;
    freeze(); // the object is made (PutObject: less than a part) only once the client has ended
    data.stream.resume();
    await writeAll(data.stream, randomData(3_000_000), ftp.timeoutMs);
    data.stream.end(); // close_notify: the client is done
    const r = await ftp.expect();
    assert.equal(r.code, 451, textOf(r));
    assert.match(textOf(r), /Storage temporarily unavailable/);
    await unavailableLogged(from);
    thaw();
    assert.equal((await object('ended.bin')).toString(), 'OLD');
  });
});

test('an upload whose gateway froze under it: 451 (storage), not 426 (the client)', async () => {
  await withClients(async (track) => {
    const ftp = track(await loggedIn(ts, 'explicit'));
    await ftp.cmd('TYPE I', 200);
    const plain = await ftp.openData(await ftp.epsv(), { tls: false });
    await ftp.cmd('STOR big.bin', 150);
    const data = await ftp.secureData(plain);
    const from = ts.logs.length;
    freeze();
    data.stream.resume();
    // More than the two parts the upload holds and every buffer between: the server stops reading.
    const sent = writeAll(data.stream, randomData(48 * 1024 * 1024), ftp.timeoutMs).catch(() => undefined);
    const r = await ftp.expect();
    assert.equal(r.code, 451, textOf(r));
    await unavailableLogged(from);
    data.stream.destroy();
    await sent;
    thaw();
  });
});

test('a download whose gateway froze: 451 (storage), not 426 (the client)', async () => {
  await admin.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'alice/down.bin', Body: randomData(40 * 1024 * 1024) }),
  );
  await withClients(async (track) => {
    const ftp = track(await loggedIn(ts, 'explicit'));
    await ftp.cmd('TYPE I', 200);
    const plain = await ftp.openData(await ftp.epsv(), { tls: false });
    await ftp.cmd('RETR down.bin', 150);
    const from = ts.logs.length;
    freeze();
    const data = await ftp.secureData(plain);
    data.stream.resume(); // reads all the server sends
    const r = await ftp.expect();
    assert.equal(r.code, 451, textOf(r));
    await unavailableLogged(from);
    thaw();
  });
});

test('a listing whose gateway froze mid-way: 451 (storage), not 426 (the client)', async () => {
  // Three ListObjectsV2 pages: the first is read before the 150 and the second fetched with it, so
  // the third is asked of the frozen gateway whenever the freeze comes.
  const keys = Array.from({ length: 2 * LIST_PAGE + 1 }, (_, i) => `alice/many/f${i}`);
  for (let i = 0; i < keys.length; i += 50)
    await Promise.all(
      keys
        .slice(i, i + 50)
        .map((Key) => admin.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }))),
    );
  // Its own server: the warnings the tests above had count towards the shared server's limit.
  const own = await serve();
  try {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(own, 'explicit'));
      for (const verb of ['LIST', 'NLST', 'MLSD']) {
        const plain = await ftp.openData(await ftp.epsv(), { tls: false });
        await ftp.cmd(`${verb} many`, 150);
        const from = own.logs.length;
        freeze(); // before the data connection's TLS: the listing reads no further page until it is up
        const data = await ftp.secureData(plain);
        data.stream.resume(); // reads all the server sends
        const r = await ftp.expect();
        assert.equal(r.code, 451, `${verb}: ${textOf(r)}`);
        assert.match(textOf(r), /Storage temporarily unavailable/);
        const line = await unavailableLogged(from, own);
        assert.equal((line.obj as { command?: string }).command, verb);
        thaw();
      }
    });
  } finally {
    await own.close();
  }
});
