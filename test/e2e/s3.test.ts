/**
 * Every FTP command a user runs, over explicit and implicit FTPS, on S3 storage: a real Ceph RADOS
 * Gateway (test/support/ceph.ts), reached through a fault proxy so that a gateway that goes away or
 * slows down can be shown too. Objects are checked with an independent S3 client (the AWS SDK).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageFile } from '../../src/auth/usage-file.js';
import { parseListLine } from '../../src/protocol/listing.js';
import { withLimits } from '../../src/storage/limited.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import type { S3Connection } from '../../src/storage/s3-connection.js';
import { S3Storage } from '../../src/storage/s3.js';
import { startCephBucket, type CephBucket } from '../support/ceph-bucket.js';
import type { TestServer } from '../support/ferry.js';
import { startFaultProxy, type FaultProxy } from '../support/s3-fault-proxy.js';
import { withDeadline, type RawFtp } from '../support/raw-ftp.js';
import { appendAtOnce, assertAppendsKept, LETTERS } from '../support/append-race.js';
import {
  assertNoLeaks,
  loginAs,
  loggedIn,
  MODES,
  randomData,
  resourceCounts,
  sha256,
  startServer,
  textOf,
  waitForLog,
  withClients,
} from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const PART = 5 * 1024 * 1024;
const QUOTA = 6 * 1024 * 1024;
let cluster: CephBucket;
let bucket: string;
before(async () => {
  cluster = await startCephBucket('e2e', {}, { memBytes: 1024 ** 3 });
  ({ bucket } = cluster);
});
after(async () => {
  await cluster?.close();
});

for (const mode of MODES) {
  describe(`S3 storage (${mode})`, { timeout: 300_000 }, () => {
    let ts: TestServer;
    let conn: S3Connection;
    let proxy: FaultProxy;
    let admin: S3Client;
    let baseline: ReturnType<typeof resourceCounts>;
    let usage: UsageFile;
    let usageDir: string;
    const home = `${mode}/alice/`;
    before(async () => {
      baseline = resourceCounts();
      // Not cluster.admin: this one's sockets are closed before this suite's leak check.
      admin = cluster.ceph.client();
      proxy = await startFaultProxy(cluster.ceph.endpoint);
      conn = cluster.connection({
        endpoint: proxy.endpoint,
        partSize: PART,
        maxRenameObjects: 10,
        maxAttempts: 3,
      });
      usageDir = await mkdtemp(path.join(os.tmpdir(), 'ferry-s3-usage-'));
      usage = new UsageFile(path.join(usageDir, 'usage.json'));
      const book = new QuotaBook(usage);
      const rates = new RateBuckets();
      // `quota` lives on S3 with a quota, as `ferry serve` builds it (the limits around any storage).
      const users = await testUsers([
        { username: 'alice', password: 'secret', home: '' },
        { username: 'quota', password: 'pw', home: '', quotaSize: QUOTA },
        { username: 'quota2', password: 'pw', home: '', quotaSize: QUOTA },
      ]);
      ts = await startServer({
        authenticator: users,
        storageFor: (p) =>
          withLimits(new S3Storage({ connection: conn, bucket, prefix: `${mode}/${p.username}/` }), p, {
            usage: book,
            rates,
          }),
      });
    });
    after(async () => {
      await ts?.close();
      conn?.close();
      await proxy?.close();
      admin?.destroy();
      await rm(usageDir, { recursive: true, force: true });
      await assertNoLeaks(baseline);
    });

    const object = async (key: string): Promise<Buffer> => {
      const r = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: home + key }));
      return Buffer.from((await r.Body?.transformToByteArray()) ?? []);
    };
    const keys = async (prefix = ''): Promise<string[]> => {
      const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: home + prefix }));
      return (r.Contents ?? []).map((o) => (o.Key ?? '').slice(home.length)).sort();
    };
    const openUploads = async (): Promise<number> => {
      const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: home }));
      return (r.Uploads ?? []).length;
    };

    test('directories are prefixes: MKD (a marker), CWD (550 when missing), RMD only when empty', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        assert.match(textOf(await ftp.cmd('MKD docs', 257)), /^"\/docs" /);
        assert.deepEqual(await keys('docs'), ['docs/']);
        await ftp.cmd('MKD docs', 550);
        await ftp.cmd('MKD missing/sub', 550);
        await ftp.cmd('CWD docs', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/docs" /);
        await ftp.cmd('MKD inner', 257);
        await ftp.cmd('CWD /nowhere', 550);
        await ftp.cmd('CDUP', 250);
        await ftp.cmd('RMD docs', 550); // not empty
        await ftp.cmd('RMD docs/inner', 250);
        await ftp.cmd('RMD docs', 250);
        await ftp.cmd('RMD docs', 550);
        assert.deepEqual(await keys('docs'), []);
        // A prefix made by another S3 client is a directory too, without a marker.
        await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${home}other/tool/x.txt`, Body: 'x' }));
        await ftp.cmd('CWD other/tool', 250);
        assert.match(await ftp.listing('NLST'), /x\.txt/);
      });
    });

    test('STOR, RETR, REST+RETR, SIZE, MDTM, MLST, LIST, NLST, MLSD; APPE and REST+STOR', async () => {
      const data = randomData(PART * 2 + 12345); // three parts
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('TYPE I', 200);
        const [, done] = await ftp.store('big.bin', data);
        assert.equal(done.code, 226, textOf(done));
        assert.equal(sha256(await object('big.bin')), sha256(data), 'an independent client reads it');
        assert.equal(sha256(await ftp.retrieve('big.bin')), sha256(data));
        await ftp.cmd(`REST ${PART + 7}`, 350);
        assert.equal(sha256(await ftp.retrieve('big.bin')), sha256(data.subarray(PART + 7)));
        assert.match(textOf(await ftp.cmd('SIZE big.bin', 213)), new RegExp(`^${data.length}`));
        const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `${home}big.bin` }));
        const mdtm = textOf(await ftp.cmd('MDTM big.bin', 213));
        assert.equal(
          mdtm.slice(0, 12),
          (head.LastModified ?? new Date(0)).toISOString().replace(/\D/g, '').slice(0, 12),
        );
        assert.match(textOf(await ftp.cmd('MLST big.bin', 250)), new RegExp(`size=${data.length};`));
        await ftp.cmd('SIZE nothing', 550);
        await ftp.cmd('MKD sub', 257);
        await ftp.store('sub/small.txt', Buffer.from('small'));
        const list = (await ftp.listing('LIST'))
          .split('\r\n')
          .filter(Boolean)
          .map((l) => parseListLine(l));
        const big = list.find((e) => e?.name === 'big.bin');
        assert.equal(big?.size, data.length);
        assert.equal(list.find((e) => e?.name === 'sub')?.type, 'dir');
        assert.deepEqual((await ftp.listing('NLST', 'sub')).split('\r\n').filter(Boolean), ['sub/small.txt']);
        const mlsd = await ftp.listing('MLSD');
        assert.match(mlsd, /type=dir;[^\r\n]* sub\r\n/);
        assert.match(mlsd, new RegExp(`type=file;[^\\r\\n]*size=${data.length};[^\\r\\n]* big\\.bin\\r\\n`));
        // APPE: small (re-read) and large (copied inside S3 with UploadPartCopy) objects.
        await ftp.store('sub/small.txt', Buffer.from('+more'), 'APPE');
        assert.equal((await object('sub/small.txt')).toString(), 'small+more');
        await ftp.store('big.bin', Buffer.from('TAIL'), 'APPE');
        assert.equal(sha256(await object('big.bin')), sha256(Buffer.concat([data, Buffer.from('TAIL')])));
        await ftp.cmd('REST 5', 350);
        await ftp.store('sub/small.txt', Buffer.from('!'));
        assert.equal((await object('sub/small.txt')).toString(), 'small!');
        assert.equal(await openUploads(), 0);
      });
    });

    test('a name both a file and a directory (keys dup/same, dup/same/…): listed once, as the directory; RETR, SIZE, DELE reach the file', async () => {
      const putKey = (key: string, body: string) =>
        admin.send(new PutObjectCommand({ Bucket: bucket, Key: home + key, Body: body }));
      await putKey('dup/same', 'file bytes');
      await putKey('dup/same/inner', 'inner');
      await putKey('dup/other', 'o');
      // The same across a listing page (1,000 keys): the key `pg/a` on the first, the prefix `pg/a/`
      // on the second (the keys `pg/a!…` sort between them).
      const between = Array.from({ length: 1000 }, (_, i) => `pg/a!${String(i).padStart(4, '0')}`);
      for (let i = 0; i < between.length; i += 50)
        await Promise.all(between.slice(i, i + 50).map((k) => putKey(k, '')));
      await putKey('pg/a', 'A');
      await putKey('pg/a/x', 'x');
      const names = (listing: string): string[] =>
        listing
          .split('\r\n')
          .filter(Boolean)
          .map((l) => l.slice(l.indexOf(' ') + 1));
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('TYPE I', 200);
        const mlsd = await ftp.listing('MLSD', 'dup');
        assert.deepEqual(names(mlsd).sort(), ['other', 'same'], mlsd);
        assert.match(mlsd, /type=dir;[^\r\n]* same\r\n/);
        const list = (await ftp.listing('LIST', 'dup')).split('\r\n').filter(Boolean);
        assert.equal(list.filter((l) => parseListLine(l)?.name === 'same').length, 1);
        assert.match(textOf(await ftp.cmd('MLST dup/same', 250)), /type=dir;/);
        await ftp.cmd('CWD dup/same', 250);
        assert.deepEqual(names(await ftp.listing('MLSD')), ['inner']);
        await ftp.cmd('CWD /', 250);
        assert.equal((await ftp.retrieve('dup/same')).toString(), 'file bytes');
        assert.match(textOf(await ftp.cmd('SIZE dup/same', 213)), /^10$/);
        await ftp.cmd('DELE dup/same', 250);
        assert.deepEqual(await keys('dup/'), ['dup/other', 'dup/same/inner']);
        await ftp.cmd('SIZE dup/same', 550);
        await ftp.cmd('CWD dup/same', 250);
        await ftp.cmd('CWD /', 250);
        const pg = names(await ftp.listing('MLSD', 'pg'));
        assert.equal(pg.length, 1001);
        assert.equal(pg.filter((n) => n === 'a').length, 1);
      });
    });

    test('DELE; RNFR/RNTO of a file and of a directory; a directory above the bound → 553', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('MKD tree', 257);
        await ftp.cmd('MKD tree/leaf', 257);
        for (const n of ['a', 'b', 'c']) await ftp.store(`tree/${n}.txt`, Buffer.from(n));
        await ftp.cmd('RNFR tree/a.txt', 350);
        await ftp.cmd('RNTO tree/z.txt', 250);
        assert.equal((await object('tree/z.txt')).toString(), 'a');
        await ftp.cmd('RNFR tree', 350);
        await ftp.cmd('RNTO moved', 250);
        assert.deepEqual(await keys('tree'), []);
        assert.deepEqual(await keys('moved'), [
          'moved/',
          'moved/b.txt',
          'moved/c.txt',
          'moved/leaf/',
          'moved/z.txt',
        ]);
        await ftp.cmd('DELE moved/b.txt', 250);
        await ftp.cmd('DELE moved/b.txt', 550);
        await ftp.cmd('DELE moved/leaf', 550); // a directory
        await ftp.cmd('RNFR nothing', 550);
        await ftp.cmd('MKD many', 257);
        for (let i = 0; i < 11; i++) await ftp.store(`many/f${i}`, Buffer.from('x'));
        await ftp.cmd('RNFR many', 350);
        assert.match(textOf(await ftp.cmd('RNTO many2', 553)), /more than 10 objects/);
        assert.equal((await keys('many/')).length, 12, 'nothing moved');
      });
    });

    for (const start of [0, PART]) {
      test(`concurrent APPEs to one object of ${start} bytes: each append that got 226 is in it, none lost`, async () => {
        const name = `appended-${start}.bin`;
        // 0: each append re-reads the object and PutObjects it; PART: each copies it inside S3
        // (UploadPartCopy) and completes a multipart upload.
        const old = Buffer.alloc(start, 'x');
        if (start > 0)
          await admin.send(new PutObjectCommand({ Bucket: bucket, Key: home + name, Body: old }));
        await withClients(async (track) => {
          const sessions: RawFtp[] = [];
          for (let i = 0; i < LETTERS.length; i++) sessions.push(track(await loggedIn(ts, mode)));
          const replies = await appendAtOnce(sessions, name);
          const file = await object(name);
          assert.ok(file.subarray(0, start).equals(old), 'the old bytes stay first');
          const kept = assertAppendsKept(file.subarray(start), replies);
          // In one server they take turns: none is refused.
          assert.deepEqual(kept.sort(), [...LETTERS].sort());
          assert.equal(await openUploads(), 0);
        });
      });
    }

    test('RNFR/RNTO of a directory holding a key with a control character moves it too', async () => {
      // Put by another S3 client: DeleteObjects' XML cannot carry U+0001 (HTTP 400 without the fix).
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${home}r2/ctl\x01x`, Body: 'c' }));
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${home}r2/plain`, Body: 'p' }));
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('RNFR r2', 350);
        await ftp.cmd('RNTO r3', 250);
        assert.deepEqual(await keys('r2/'), []);
        // No marker is added: r2 had none (89fe685).
        assert.deepEqual(await keys('r3/'), ['r3/ctl\x01x', 'r3/plain']);
      });
    });

    test('FEAT and HELP follow what S3 can do: REST STREAM, no MFMT, no SITE CHMOD', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        const feat = textOf(await ftp.cmd('FEAT', 211));
        assert.match(feat, /REST STREAM/);
        assert.doesNotMatch(feat, /MFMT/);
        await ftp.cmd('MFMT 20200101000000 nothing', 502);
        await ftp.cmd('SITE CHMOD 644 nothing', 502);
        assert.doesNotMatch(textOf(await ftp.cmd('SITE HELP', 214)), /CHMOD/);
      });
    });

    test('a cut upload (no TLS close_notify) → 426; the old object stays, no multipart upload is left', async () => {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${home}keep.bin`, Body: 'old content' }));
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        const port = await ftp.epsv();
        const data = await ftp.openData(port, { tls: ftp.dataTls });
        await ftp.cmd('STOR keep.bin', 150);
        await ftp.uploadTruncated(data, randomData(PART + PART / 2)); // one part stored, then cut
        assert.equal((await ftp.expect()).code, 426);
        assert.equal((await object('keep.bin')).toString(), 'old content');
        assert.equal(await openUploads(), 0);
        await ftp.cmd('NOOP', 200);
      });
    });

    /** Waits (on STAT replies, not time) until the server has read `n` bytes of the upload. */
    const received = async (ftp: RawFtp, n: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const stat = textOf(await ftp.cmd('STAT', 211));
        const m = /(\d+) bytes/.exec(stat);
        if (m && Number(m[1]) >= n) return;
        assert.ok(i < 5000, `the upload did not progress: ${stat}`);
      }
    };

    for (const how of ['data connection destroyed', 'ABOR'] as const) {
      test(`an upload cut mid-second part (${how}): 426, the server goes on, the multipart upload is aborted`, async () => {
        const rejections: unknown[] = [];
        const onRejection = (err: unknown): void => void rejections.push(err);
        process.on('unhandledRejection', onRejection);
        try {
          const name = `cut-${how === 'ABOR' ? 'abor' : 'reset'}.bin`;
          await admin.send(new PutObjectCommand({ Bucket: bucket, Key: home + name, Body: 'old content' }));
          await withClients(async (track) => {
            const ftp = track(await loggedIn(ts, mode));
            await ftp.cmd('TYPE I', 200);
            const port = await ftp.epsv();
            const data = await ftp.openData(port, { tls: ftp.dataTls });
            await ftp.cmd(`STOR ${name}`, 150);
            data.stream.resume();
            // The first part is stored from its buffer; the second streams to the gateway as it
            // fills: its request is in flight, waiting for bytes, when the upload is cut.
            const sent = PART + PART / 2;
            data.stream.write(randomData(sent));
            await received(ftp, sent);
            if (how === 'ABOR') {
              const r1 = await ftp.cmd('ABOR');
              const r2 = await ftp.expect();
              assert.deepEqual([r1.code, r2.code], [426, 226], `${textOf(r1)} / ${textOf(r2)}`);
            } else {
              data.raw.destroy();
              assert.equal((await ftp.expect()).code, 426);
            }
            assert.equal(conn.busySockets, 0, 'no request to the gateway is left running');
            assert.equal(await openUploads(), 0, 'the multipart upload was aborted');
            assert.equal((await object(name)).toString(), 'old content');
            await ftp.cmd('NOOP', 200);
            assert.equal((await ftp.store(name, Buffer.from('new')))[1].code, 226);
            assert.equal((await object(name)).toString(), 'new');
          });
          assert.deepEqual(rejections, [], 'no unhandled rejection');
        } finally {
          process.off('unhandledRejection', onRejection);
        }
      });
    }

    test('a gateway gone once an upload has all its bytes: 451 and a warn line (426 would blame the client)', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const data = await ftp.openData(port, { tls: ftp.dataTls });
        await ftp.cmd('STOR gone.bin', 150);
        data.stream.resume();
        const from = ts.logs.length;
        data.stream.write(randomData(1000));
        await received(ftp, 1000); // the object was looked up: the upload reads its bytes
        proxy.gone(true);
        try {
          data.stream.end();
          const r = await ftp.expect();
          assert.equal(`${r.code} ${textOf(r)}`, '451 Storage temporarily unavailable, try again later.');
          const line = await waitForLog(ts, (l) => l.msg === 'storage unavailable: commands get 451', from);
          assert.match(JSON.stringify(line.obj), /"command":"STOR"/);
        } finally {
          proxy.gone(false);
        }
        await ftp.cmd('NOOP', 200);
      });
    });

    test('S3 errors: NoSuchKey → 550, SlowDown retried then 451, a gateway gone mid-RETR → 451 for it alone', async () => {
      const data = randomData(32 * 1024 * 1024);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.store('stream.bin', data);
        await ftp.cmd('RETR no-such-object', 550);
        proxy.slowDown(true);
        const before = proxy.slowedDown;
        await ftp.cmd('SIZE stream.bin', 451);
        assert.ok(proxy.slowedDown - before >= 2, 'the request was retried');
        for (let i = 0; i < 6; i++) await ftp.cmd('SIZE stream.bin', 451);
        proxy.slowDown(false);
        // The 451s are logged at warn, a few a minute for the whole server, naming the error.
        const warned = (msg: string) => ts.logs.filter((l) => l.level === 'warn' && l.msg === msg);
        const down = warned('storage unavailable: commands get 451');
        assert.ok(down.length >= 1 && down.length <= 5, JSON.stringify(down));
        const line = JSON.stringify(down.at(-1)?.obj);
        assert.match(line, /"command":"SIZE"/);
        assert.match(line, /"error":"stat \/stream\.bin: storage unavailable"/);
        assert.match(line, /"cause":"[^"]+"/);
        assert.doesNotMatch(JSON.stringify(ts.logs), new RegExp(cluster.ceph.secretAccessKey));
        // A request the gateway refuses for good: 550 (MKD's only code) naming its error, and a warn line.
        proxy.refuse(/^PUT /, 1, 400);
        assert.match(
          textOf(await ftp.cmd('MKD refused', 550)),
          /refused by the storage \(InvalidArgument 400\)/,
        );
        const refused = warned('storage refused a request: 553 (550 to commands RFC 959 allows no 553)');
        assert.equal(refused.length, 1, JSON.stringify(refused));
        assert.match(JSON.stringify(refused[0]?.obj), /"command":"MKD".*InvalidArgument/);
        // RETR: the gateway sends 1 MiB of the object and stalls; then it goes away mid-object.
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: ftp.dataTls });
        const first = new Promise<void>((resolve) => conn.stream.once('data', () => resolve()));
        conn.stream.resume();
        proxy.stallAfter(1024 * 1024);
        await ftp.cmd('RETR stream.bin', 150);
        await withDeadline(first, 60_000, 'the first bytes of RETR');
        proxy.cut();
        // The storage failed, not the data connection: 451 says so (426 would blame the network).
        const cut = await ftp.expect();
        assert.equal(
          `${cut.code} ${textOf(cut)}`,
          '451 Transfer aborted: the server could not read the file.',
        );
        conn.stream.resume();
        await ftp.cmd('PWD', 257);
        assert.equal(sha256(await ftp.retrieve('stream.bin')), sha256(data), 'the next transfer works');
      });
    });

    test('quotas on an S3 user: at the limit passes, crossing mid-upload is 552 and leaves the old object', async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(ts, mode, 'quota', track);
        const first = randomData(QUOTA - 1000);
        assert.equal((await ftp.store('f.bin', first))[1].code, 226);
        await ftp.store('g.bin', randomData(1000));
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: ftp.dataTls });
        await ftp.cmd('STOR h.bin', 150);
        const sent = ftp.uploadClean(conn, randomData(PART + 1)).catch(() => undefined);
        assert.equal((await ftp.expect()).code, 552);
        await sent;
        const quotaHome = `${mode}/quota/`;
        const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: quotaHome }));
        assert.deepEqual((r.Contents ?? []).map((o) => o.Key).sort(), [
          `${quotaHome}f.bin`,
          `${quotaHome}g.bin`,
        ]);
        const uploads = await admin.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: quotaHome }),
        );
        assert.equal((uploads.Uploads ?? []).length, 0, 'the refused multipart upload was aborted');
        assert.deepEqual(await usage.get('quota'), { bytes: QUOTA, files: 2 });
        await ftp.cmd('DELE g.bin', 250);
        assert.equal((await ftp.store('h.bin', randomData(1000)))[1].code, 226);
      });
    });

    test('quota crossed mid-second part (the rest drained, 552 at the end): no multipart upload is left', async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(ts, mode, 'quota2', track);
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const data = await ftp.openData(port, { tls: ftp.dataTls });
        await ftp.cmd('STOR big.bin', 150);
        // QUOTA is crossed inside the second part, which streams to the gateway as it fills.
        const sent = ftp.uploadClean(data, randomData(2 * PART + 1000)).catch(() => undefined);
        assert.equal((await ftp.expect()).code, 552);
        await sent;
        assert.equal(conn.busySockets, 0, 'no request to the gateway is left running');
        const quotaHome = `${mode}/quota2/`;
        const uploads = await admin.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: quotaHome }),
        );
        assert.equal((uploads.Uploads ?? []).length, 0, 'the refused multipart upload was aborted');
        const r = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: quotaHome }));
        assert.deepEqual(r.Contents ?? [], []);
        assert.equal((await ftp.store('small.bin', randomData(1000)))[1].code, 226);
      });
    });
  });
}
