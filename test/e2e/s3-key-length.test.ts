/**
 * A name whose S3 key (the user's prefix, the path, a directory's `/`) would pass S3's 1,024 bytes
 * of UTF-8: STOR, APPE, MKD and RNTO (a file, or a directory whose objects would) get one clear 553,
 * and nothing is made. The bytes count, not the characters: each name here is 100 `é`, 200 bytes.
 * On a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { loggedIn, textOf, withClients } from './harness.js';
import { serveAliceOn } from './s3-alice-server.js';

const TOO_LONG = 'Name too long for this storage (S3 keys are at most 1024 bytes).';
const D = 'é'.repeat(100); // 200 bytes
/** Five levels of D: its marker's key is `alice/` and 5 × 201 bytes, 1,011; 13 bytes are left. */
const DEEP = `/${D}/${D}/${D}/${D}/${D}`;
let cluster: CephBucket;
let bucket: string;
let admin: S3Client;
let ts: TestServer;

before(async () => {
  cluster = await startCephBucket('keys');
  ({ admin, bucket } = cluster);
  const { conn } = cluster;
  ts = await serveAliceOn({ conn, bucket });
});
after(async () => {
  await ts?.close();
  await cluster?.close();
});

async function keys(): Promise<string[]> {
  const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'alice/' }));
  return (r.Contents ?? []).map((o) => o.Key ?? '').sort();
}

test('STOR, APPE, MKD and RNTO past 1,024 bytes of key: 553 (MKD: 550) saying so, nothing made', async () => {
  await withClients(async (track) => {
    const ftp = track(await loggedIn(ts, 'explicit'));
    let at = '';
    for (let i = 0; i < 5; i++) await ftp.cmd(`MKD ${(at += `/${D}`)}`, 257);
    await ftp.cmd(`CWD ${DEEP}`, 250);
    // Exactly 1,024 bytes: allowed.
    assert.equal((await ftp.store('a'.repeat(13), Buffer.from('x')))[1].code, 226);
    const before = await keys();
    const long = 'b'.repeat(14);
    for (const [line, code] of [
      [`STOR ${long}`, 553],
      [`APPE ${long}`, 553],
      [`MKD ${long}`, 550], // RFC 959 gives MKD 550 only
      [`MKD ${D}`, 550],
    ] as const) {
      const r = await ftp.cmd(line);
      assert.deepEqual([r.code, textOf(r)], [code, TOO_LONG], line);
    }
    await ftp.cmd(`RNFR ${'a'.repeat(13)}`, 350);
    const file = await ftp.cmd(`RNTO ${long}`);
    assert.deepEqual([file.code, textOf(file)], [553, TOO_LONG], 'RNTO of the file');
    // The directory's name a byte longer: the file at its bottom would pass the limit.
    await ftp.cmd('CWD /', 250);
    await ftp.cmd(`RNFR ${D}`, 350);
    const dir = await ftp.cmd(`RNTO ${D}x`);
    assert.deepEqual([dir.code, textOf(dir)], [553, TOO_LONG], 'RNTO of the directory');
    assert.deepEqual(await keys(), before, 'nothing made, nothing moved');
  });
});
