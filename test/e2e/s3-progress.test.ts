/**
 * S3 calls that can outlast the command time limit while they work report their steps
 * (StorageContext.progress), so that the limit cuts only a call that stopped moving: a rename of a
 * directory copies each object, then deletes the originals; a listing reads page after page, some
 * with nothing it lists. On a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { LIST_PAGE } from '../../src/storage/s3-listing.js';
import { S3Storage } from '../../src/storage/s3.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';

let cluster: CephBucket;
let bucket: string;
let admin: S3Client;
before(async () => {
  cluster = await startCephBucket('progress');
  ({ bucket, admin } = cluster);
});
after(async () => {
  await cluster?.close();
});

/** `work` with a storage on the bucket's `u/` and a context counting its steps. */
async function withStorage(
  work: (storage: S3Storage, c: StorageContext, steps: () => number) => Promise<void>,
): Promise<void> {
  const conn = cluster.connection();
  let steps = 0;
  const context = { sessionId: 's', signal: new AbortController().signal, progress: () => void steps++ };
  try {
    await work(new S3Storage({ connection: conn, bucket, prefix: 'u/' }), context, () => steps);
  } finally {
    conn.close();
  }
}

const put = (key: string, body: string): Promise<unknown> =>
  admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

test('a directory rename reports one step per object copied', { timeout: 120_000 }, async () => {
  await withStorage(async (storage, context, steps) => {
    const names = ['dir/', 'dir/a.txt', 'dir/b.txt', 'dir/sub/c.txt'];
    for (const name of names) await put(`u/${name}`, name);
    await storage.rename('/dir' as VPath, '/moved' as VPath, context);
    assert.equal(steps(), names.length);
    const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'u/' }));
    assert.deepEqual(
      (r.Contents ?? []).map((o) => o.Key).sort(),
      names.map((n) => `u/${n.replace(/^dir\//, 'moved/')}`).sort(),
    );
  });
});

test('a listing reports a step for each page it lists nothing of', { timeout: 120_000 }, async () => {
  await withStorage(async (storage, context, steps) => {
    // A page of names no listing shows (a backslash: virtual-path.ts), then one it shows.
    const hidden = Array.from({ length: LIST_PAGE }, (_, i) => `u/many/a\\${String(i).padStart(4, '0')}`);
    for (let i = 0; i < hidden.length; i += 50)
      await Promise.all(hidden.slice(i, i + 50).map((k) => put(k, '')));
    await put('u/many/z.txt', 'z');
    const seen: { names: string[]; steps: number }[] = [];
    for await (const batch of storage.list('/many' as VPath, context))
      seen.push({ names: batch.map((e) => e.name), steps: steps() });
    assert.deepEqual(seen, [{ names: ['z.txt'], steps: 1 }]);
  });
});
