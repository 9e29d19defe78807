/**
 * A quota the S3 gateway enforces itself (radosgw's bucket quota: `QuotaExceeded`, a 403) is a full
 * storage, 552, which clients do not retry, and a warning that names it, not a 451 `Permission
 * denied` logged as refused credentials. On a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { loggedIn, textOf, waitForLog, withClients } from './harness.js';
import { serveAliceOn } from './s3-alice-server.js';

let cluster: CephBucket;
let ts: TestServer;

before(async () => {
  cluster = await startCephBucket('gwquota');
  const { conn, bucket } = cluster;
  await cluster.ceph.radosgwAdmin([
    'quota',
    'set',
    '--quota-scope=bucket',
    `--bucket=${bucket}`,
    '--max-objects=1',
  ]);
  await cluster.ceph.radosgwAdmin(['quota', 'enable', '--quota-scope=bucket', `--bucket=${bucket}`]);
  ts = await serveAliceOn({ conn, bucket });
});
after(async () => {
  await ts?.close();
  await cluster?.close();
});

test("an upload over the gateway's bucket quota: 552, and a warning naming the quota", async () => {
  await withClients(async (track) => {
    const ftp = track(await loggedIn(ts, 'explicit'));
    assert.equal((await ftp.store('first.txt', Buffer.from('one')))[1].code, 226);
    const from = ts.logs.length;
    const [opening, final] = await ftp.store('second.txt', Buffer.from('two'));
    assert.equal(opening.code, 150);
    assert.equal(final.code, 552, textOf(final));
    const line = await waitForLog(ts, (l) => l.level === 'warn' && l.msg.includes('QuotaExceeded'), from);
    assert.match(line.msg, /^storage full: the S3 gateway refused the object over a quota of its own/);
    assert.ok(
      !ts.logs.slice(from).some((l) => /credentials/.test(JSON.stringify(l))),
      'not said to be a credentials problem',
    );
    // Still usable otherwise: the session goes on.
    await ftp.cmd('NOOP', 200);
  });
});
