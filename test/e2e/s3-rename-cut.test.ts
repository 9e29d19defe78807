/**
 * A directory rename on S3 is a copy of every object, then deletes: one cut halfway left the
 * original whole plus part of it under the new name, and nobody was told. A client that leaves
 * during it (or gave up waiting for the reply) no longer cuts it: it finishes; one stopped (the
 * server's stop) undoes its copies. And a directory renamed gets no marker it did not have, so a
 * directory of exactly maxRenameObjects objects can be renamed back. On a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3Storage } from '../../src/storage/s3.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { forwardingStorage } from '../support/forwarding-storage.js';
import { loginAs, startServer, waitForLog, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const MAX = 40;
let cluster: CephBucket;
let bucket: string;
let admin: S3Client;

before(async () => {
  cluster = await startCephBucket('renamecut', { maxRenameObjects: MAX });
  ({ bucket, admin } = cluster);
});
after(async () => {
  await cluster?.close();
});

async function keys(prefix: string): Promise<string[]> {
  const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => (o.Key ?? '').slice(prefix.length)).sort();
}

/** `n` files under `<prefix>dir/` (no marker: put by another S3 client). */
async function fill(prefix: string, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `f${String(i).padStart(3, '0')}`);
  for (let i = 0; i < n; i += 20)
    await Promise.all(
      names
        .slice(i, i + 20)
        .map((name) =>
          admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}dir/${name}`, Body: name })),
        ),
    );
  return names;
}

/** A server on `<user>/` whose renames tell `copied` once their first object is copied. */
async function serve(user: string, copied: () => void, timeouts = {}): Promise<TestServer> {
  const { conn } = cluster;
  return startServer({
    timeouts,
    authenticator: await testUsers([{ username: user, password: 'pw', home: '' }]),
    storageFor: () => {
      const s3 = new S3Storage({ connection: conn, bucket, prefix: `${user}/` });
      return forwardingStorage(s3, {
        rename: (from, to, c) => s3.rename(from, to, { ...c, progress: () => (c.progress?.(), copied()) }),
      });
    },
  });
}

test('a client that leaves during a directory rename: the rename finishes, nothing half copied', async () => {
  const names = await fill('left/', MAX);
  let first!: () => void;
  const copying = new Promise<void>((resolve) => (first = resolve));
  const ts = await serve('left', () => first());
  try {
    const from = ts.logs.length;
    await withClients(async (track) => {
      const ftp = await loginAs(ts, 'explicit', 'left', track);
      await ftp.cmd('RNFR dir', 350);
      ftp.send('RNTO moved');
      await copying;
      ftp.socket.destroy(); // gone without a word, as a client whose reply timer ran out
    });
    const line = await waitForLog(ts, (l) => l.msg === 'rename', from);
    assert.equal((line.obj as { reply?: number }).reply, 250);
    assert.deepEqual(await keys('left/dir/'), [], 'the originals are gone');
    assert.deepEqual(await keys('left/moved/'), names, 'every object is under the new name');
  } finally {
    await ts.close();
  }
});

test("the server's stop during a directory rename ends, and leaves the directory whole under one name", async () => {
  const names = await fill('halt/', MAX);
  let first!: () => void;
  const copying = new Promise<void>((resolve) => (first = resolve));
  const ts = await serve('halt', () => first(), { closeGraceMs: 0 });
  await withClients(async (track) => {
    const ftp = await loginAs(ts, 'explicit', 'halt', track);
    await ftp.cmd('RNFR dir', 350);
    ftp.send('RNTO moved');
    await copying;
    await ts.close(); // finished within the stop's margin, or aborted there and undone
  });
  const [old, moved] = [await keys('halt/dir/'), await keys('halt/moved/')];
  assert.ok(
    (old.length === 0 && moved.join() === names.join()) ||
      (moved.length === 0 && old.join() === names.join()),
    `whole under one name: ${old.length} under the old, ${moved.length} under the new`,
  );
});

test('a directory rename aborted halfway (the server stopping) removes the copies it made', async () => {
  const names = await fill('stop/', MAX);
  const conn = cluster.connection();
  try {
    const storage = new S3Storage({ connection: conn, bucket, prefix: 'stop/' });
    const abort = new AbortController();
    const c: StorageContext = { sessionId: 's', signal: abort.signal, progress: () => abort.abort() };
    await assert.rejects(storage.rename('/dir' as VPath, '/moved' as VPath, c), { code: 'ERR_ABORTED' });
    assert.deepEqual(await keys('stop/dir/'), names, 'the original is whole');
    assert.deepEqual(await keys('stop/moved/'), [], 'no copy is left under the new name');
  } finally {
    conn.close();
  }
});

test('a directory of exactly maxRenameObjects objects, renamed, can be renamed back', async () => {
  const names = await fill('back/', MAX);
  const ts = await serve('back', () => {});
  try {
    await withClients(async (track) => {
      const ftp = await loginAs(ts, 'explicit', 'back', track);
      await ftp.cmd('RNFR dir', 350);
      await ftp.cmd('RNTO moved', 250);
      await ftp.cmd('RNFR moved', 350);
      await ftp.cmd('RNTO dir', 250);
    });
    assert.deepEqual(await keys('back/dir/'), names);
  } finally {
    await ts.close();
  }
});
