// The storage contract over S3Storage against a real Ceph RADOS Gateway, and what is S3's own:
// prefixes as directories, markers, bounded directory renames, copy-and-append.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Connection } from '../../src/storage/s3-connection.js';
import { S3Storage } from '../../src/storage/s3.js';
import { storageContract } from '../../src/storage/test-contract.js';
import { ctx, names, readFile, rejectsKind, source, v } from '../../src/storage/test-support.js';
import type { CephGateway } from '../support/ceph.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import { startFaultProxy } from '../support/s3-fault-proxy.js';

let cluster: CephBucket;
let ceph: CephGateway;
let conn: S3Connection;
let admin: S3Client;
let bucket: string;
let prefixes = 0;

before(async () => {
  cluster = await startCephBucket('contract', { partSize: 5 * 1024 * 1024, maxRenameObjects: 20 });
  ({ ceph, conn, admin, bucket } = cluster);
});
after(async () => {
  await cluster?.close();
});

async function bytesOf(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of r) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A fresh prefix of the shared bucket with `files` put straight through the SDK. */
async function seeded(files: Record<string, string> = {}, readOnly = false): Promise<S3Storage> {
  const prefix = `t${++prefixes}/`;
  const entries = Object.entries(files);
  for (let i = 0; i < entries.length; i += 32) {
    await Promise.all(
      entries
        .slice(i, i + 32)
        .map(([p, body]) =>
          admin.send(
            new PutObjectCommand({ Bucket: bucket, Key: prefix + p.replace(/^\//, ''), Body: body }),
          ),
        ),
    );
  }
  return new S3Storage({ connection: conn, bucket, prefix, readOnly });
}

storageContract('S3Storage (radosgw)', async (_t, seed = {}) => seeded(seed.files, seed.readOnly));

describe('S3Storage specifics (radosgw)', () => {
  async function keys(prefix: string): Promise<string[]> {
    const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (r.Contents ?? []).map((o) => (o.Key ?? '').slice(prefix.length)).sort();
  }

  it('keeps an emptied directory as a marker, and removes only empty directories', async () => {
    const s = await seeded({ '/d/f': 'x' });
    const prefix = `t${prefixes}/`;
    await s.remove(v('/d/f'), ctx());
    assert.deepEqual(await names(s, '/'), ['d']);
    assert.deepEqual(await keys(prefix), ['d/']);
    await s.mkdir(v('/d/e'), ctx());
    await rejectsKind(s.removeDir(v('/d'), ctx()), 'not-empty');
    await s.removeDir(v('/d/e'), ctx());
    await s.removeDir(v('/d'), ctx());
    assert.deepEqual(await keys(prefix), []);
  });

  it('renames a directory with everything below it, and refuses one above maxRenameObjects', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`/src/sub/f${i}`] = `content ${i}`;
    for (let i = 0; i < 21; i++) files[`/big/f${i}`] = 'x';
    const s = await seeded(files);
    await s.rename(v('/src'), v('/dst'), ctx());
    assert.deepEqual(await names(s, '/'), ['big', 'dst']);
    assert.deepEqual(await names(s, '/dst/sub'), ['f0', 'f1', 'f2', 'f3', 'f4']);
    assert.equal(await readFile(s, '/dst/sub/f3'), 'content 3');
    await assert.rejects(s.rename(v('/big'), v('/big2'), ctx()), /more than 20 objects/);
    assert.equal((await names(s, '/big')).length, 21);
  });

  it('appends and restarts large objects by copying their start inside S3 (UploadPartCopy)', async () => {
    const s = await seeded();
    const six = Buffer.alloc(6 * 1024 * 1024, 'a');
    await s.write(v('/big'), source(six.toString()), { offset: 0, append: false }, ctx());
    await s.write(v('/big'), source('tail'), { offset: 0, append: true }, ctx());
    assert.equal((await s.stat(v('/big'), ctx())).size, six.length + 4);
    assert.equal(await readFile(s, '/big', six.length - 2), 'aatail');
    await s.write(v('/big'), source('XY'), { offset: six.length - 1, append: false }, ctx());
    assert.equal((await s.stat(v('/big'), ctx())).size, six.length + 1);
    assert.equal(await readFile(s, '/big', six.length - 2), 'aXY');
  });

  /** `data` in uneven chunks (as TLS hands them over), failing after `failAt` bytes if given. */
  function chunked(data: Buffer, failAt?: number): Readable {
    return Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += 100_003) {
          if (failAt !== undefined && at >= failAt) throw new Error('data connection lost');
          yield data.subarray(at, at + 100_003);
        }
      })(),
    );
  }

  async function objectBytes(key: string): Promise<Buffer> {
    const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(
      await (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  }

  async function openUploads(prefix: string): Promise<number> {
    const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return r.Uploads?.length ?? 0;
  }

  it('streams the parts after the first: a last part shorter than declared is sent again whole', async () => {
    const part = 5 * 1024 * 1024;
    const s = await seeded();
    const prefix = `t${prefixes}/`;
    // One part and a byte; two exact parts (the last streamed one completes); a short third part.
    for (const size of [part + 1, 2 * part, 3 * part - 12_345]) {
      const data = randomBytes(size);
      await s.write(v(`/u${size}`), chunked(data), { offset: 0, append: false }, ctx());
      assert.ok((await objectBytes(`${prefix}u${size}`)).equals(data), `${size} bytes stored as sent`);
    }
    assert.equal(await openUploads(prefix), 0, 'no multipart upload left open');
  });

  it('hands each chunk of a recycling source back once it is copied into a part', async () => {
    const s = await seeded();
    const prefix = `t${prefixes}/`;
    const data = randomBytes(6 * 1024 * 1024 + 7);
    const sent: Buffer[] = [];
    const back: Buffer[] = [];
    const src = Object.assign(
      Readable.from(
        (function* () {
          for (let at = 0; at < data.length; at += 256 * 1024) {
            const chunk = Buffer.from(data.subarray(at, at + 256 * 1024));
            sent.push(chunk);
            yield chunk;
          }
        })(),
      ),
      { recycle: (chunk: Buffer) => void back.push(chunk) },
    );
    await s.write(v('/r'), src, { offset: 0, append: false }, ctx());
    assert.ok((await objectBytes(`${prefix}r`)).equals(data), 'stored as sent');
    assert.equal(back.length, sent.length);
    assert.ok(
      back.every((b, i) => b === sent[i]),
      'the same Buffers, each once, in order',
    );
  });

  it('an upload cut in a streamed part leaves the old object and no open multipart upload', async () => {
    const part = 5 * 1024 * 1024;
    const s = await seeded({ '/keep': 'old content' });
    const prefix = `t${prefixes}/`;
    const data = randomBytes(3 * part);
    await assert.rejects(
      s.write(v('/keep'), chunked(data, 2 * part + 1_000_000), { offset: 0, append: false }, ctx()),
    );
    assert.equal(await readFile(s, '/keep'), 'old content');
    assert.equal(await openUploads(prefix), 0);
  });

  it('a streamed part the gateway refuses is sent again from its buffer', async () => {
    const part = 5 * 1024 * 1024;
    await seeded();
    const prefix = `t${prefixes}/`;
    const proxy = await startFaultProxy(ceph.endpoint);
    const c = cluster.connection({ endpoint: proxy.endpoint, partSize: part });
    try {
      const s = new S3Storage({ connection: c, bucket, prefix });
      // Part 1 is gathered whole; part 2 is the first streamed one: refused while its body is sent.
      proxy.refuse(/^PUT \S*[?&]partNumber=2(&|\s)/, 1);
      const data = randomBytes(3 * part - 12_345);
      await s.write(v('/refused'), chunked(data), { offset: 0, append: false }, ctx());
      assert.equal(proxy.refused, 1, 'the streamed part was refused once');
      assert.ok((await objectBytes(`${prefix}refused`)).equals(data), 'stored as sent');
      assert.equal(await openUploads(prefix), 0, 'no multipart upload left open');
    } finally {
      c.close();
      await proxy.close();
    }
  });

  it('an upload whose gateway went away once its bytes arrived (connection refused) is unavailable (451), not aborted (426)', async () => {
    await seeded();
    const prefix = `t${prefixes}/`;
    const proxy = await startFaultProxy(ceph.endpoint);
    const c = cluster.connection({ endpoint: proxy.endpoint, maxAttempts: 1 });
    try {
      const s = new S3Storage({ connection: c, bucket, prefix });
      let reading!: () => void;
      const read = new Promise<void>((resolve) => (reading = resolve));
      // Read from once the upload has checked the object (through the gateway, still there).
      const src = new Readable({ read: () => reading() });
      const writing = s.write(v('/gone.bin'), src, { offset: 0, append: false }, ctx());
      await read;
      await proxy.close(); // the gateway is gone: its port refuses connections
      src.push(randomBytes(1000));
      src.push(null);
      await rejectsKind(writing, 'unavailable');
    } finally {
      c.close();
    }
  });

  it('reads an object larger than a part as ranged GETs, in order, from any offset', async () => {
    const part = 5 * 1024 * 1024;
    const data = randomBytes(3 * part + 12345);
    await seeded();
    const key = `t${prefixes}/big.bin`;
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    for (const readAhead of [0, 1, 3]) {
      const c = cluster.connection({ partSize: part, readAhead });
      try {
        const storage = new S3Storage({ connection: c, bucket, prefix: `t${prefixes}/` });
        for (const offset of [0, 1, part - 1, part, 2 * part + 7, data.length - 1, data.length]) {
          const got = await bytesOf(await storage.openRead(v('/big.bin'), { offset }, ctx()));
          assert.ok(got.equals(data.subarray(offset)), `readAhead ${readAhead}, offset ${offset}`);
        }
      } finally {
        c.close();
      }
    }
  });

  it('a download fails, never mixes two objects, when the object is replaced during it', async () => {
    // A part well beyond what the download reads ahead into its current range (up to 4 chunks of
    // 1 MiB held, s3-download.ts), so part 3 is not asked for before the replacement.
    const part = 10 * 1024 * 1024;
    await seeded();
    const key = `t${prefixes}/moving.bin`;
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(3 * part, 'a') }));
    const c = cluster.connection({ partSize: part, readAhead: 1 });
    try {
      const storage = new S3Storage({ connection: c, bucket, prefix: `t${prefixes}/` });
      const r = await storage.openRead(v('/moving.bin'), { offset: 0 }, ctx());
      // Parts 1 and 2 are asked for at once; part 3 only once part 1 is read: after the replacement.
      const it = r[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const first = await it.next();
      assert.equal(first.value?.[0], 'a'.charCodeAt(0));
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(3 * part, 'b') }));
      let sent = first.value?.length ?? 0;
      await assert.rejects(async () => {
        for (let n = await it.next(); !n.done; n = await it.next()) {
          assert.equal(n.value.includes('b'), false, 'no byte of the new object');
          sent += n.value.length;
        }
      });
      assert.ok(sent <= 2 * part, `at most the two parts asked for before the replacement (${sent})`);
    } finally {
      c.close();
    }
  });

  it('reports a missing bucket and wrong credentials as refusals', async () => {
    await assert.rejects(conn.checkBucket('no-such-bucket-here'), /not-found|no such/);
    const wrong = cluster.connection({ accessKeyId: 'NOPE', secretAccessKey: 'nope' });
    try {
      await rejectsKind(wrong.checkBucket(bucket), 'permission-denied');
    } finally {
      wrong.close();
    }
  });
});
