/**
 * An S3 rename of a directory copies each object, then deletes the originals: it can outlast the
 * command time limit while it works, so it reports each object copied (StorageContext.progress),
 * and the limit cuts only a rename that stopped moving. On a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3Connection, s3Settings } from '../../src/storage/s3-connection.js';
import { S3Storage } from '../../src/storage/s3.js';
import type { VPath } from '../../src/storage/types.js';
import { startCeph, type CephGateway } from '../support/ceph.js';

let ceph: CephGateway;
let bucket: string;
let admin: S3Client;
before(async () => {
  ceph = await startCeph();
  bucket = await ceph.bucket('rename-progress');
  admin = ceph.client();
});
after(async () => {
  admin?.destroy();
  await ceph?.stop();
});

test('a directory rename reports one step per object copied', { timeout: 120_000 }, async () => {
  const conn = new S3Connection(
    s3Settings({
      endpoint: ceph.endpoint,
      forcePathStyle: true,
      accessKeyId: ceph.accessKeyId,
      secretAccessKey: ceph.secretAccessKey,
    }),
  );
  try {
    const names = ['dir/', 'dir/a.txt', 'dir/b.txt', 'dir/sub/c.txt'];
    for (const name of names) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `u/${name}`, Body: name }));
    }
    const storage = new S3Storage({ connection: conn, bucket, prefix: 'u/' });
    let steps = 0;
    const context = { sessionId: 's', signal: new AbortController().signal, progress: () => void steps++ };
    await storage.rename('/dir' as VPath, '/moved' as VPath, context);
    assert.equal(steps, names.length);
    const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'u/' }));
    assert.deepEqual(
      (r.Contents ?? []).map((o) => o.Key).sort(),
      names.map((n) => `u/${n.replace(/^dir\//, 'moved/')}`).sort(),
    );
  } finally {
    conn.close();
  }
});
