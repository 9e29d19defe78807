/**
 * HASH (draft-bryan-ftpext-hash): FEAT lists the algorithms with the selected one starred; OPTS HASH
 * asks and selects; each algorithm's digest equals the file's; directories, missing files and
 * unknown algorithms are refused; hashing a large file streams (another session is answered
 * meanwhile); ABOR stops a HASH in progress. The `download` permission is checked in
 * permissions.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import { Crc32 } from '../../src/protocol/hash.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { GatedStorage } from '../support/gated-storage.js';
import type { StorageContext, VPath } from '../../src/storage/types.js';
import { UserTable } from '../../src/auth/users.js';
import {
  loggedIn,
  loginAs,
  MODES,
  randomData,
  textOf,
  useFerry,
  waitForLog,
  withClients,
} from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const DIGESTS: Record<string, (b: Buffer) => string> = {
  'SHA-256': (b) => createHash('sha256').update(b).digest('hex'),
  'SHA-512': (b) => createHash('sha512').update(b).digest('hex'),
  'SHA-1': (b) => createHash('sha1').update(b).digest('hex'),
  MD5: (b) => createHash('md5').update(b).digest('hex'),
  CRC32: (b) => new Crc32().update(b).digest(),
};

describe('HASH', { timeout: 120_000 }, () => {
  const server = useFerry();
  const data = randomData(300_001);
  before(async () => {
    await writeFile(path.join(server().root, 'file one.bin'), data);
    await mkdir(path.join(server().root, 'dir'));
    await writeFile(path.join(server().root, 'big.bin'), randomData(96 << 20));
  });

  for (const mode of MODES) {
    test(`${mode}: every algorithm, selected with OPTS HASH and shown in FEAT`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        assert.equal(textOf(await ftp.cmd('OPTS HASH', 200)), 'SHA-256');
        for (const [alg, digest] of Object.entries(DIGESTS)) {
          assert.equal(textOf(await ftp.cmd(`OPTS HASH ${alg.toLowerCase()}`, 200)), alg);
          const feat = (await ftp.cmd('FEAT', 211)).lines.map((l) => l.trim());
          assert.ok(
            feat.includes(
              `HASH ${['SHA-256', 'SHA-512', 'SHA-1', 'MD5', 'CRC32'].map((a) => (a === alg ? `${a}*` : a)).join(';')}`,
            ),
            feat.join('|'),
          );
          const r = await ftp.cmd('HASH file one.bin', 213);
          assert.equal(textOf(r), `${alg} 0-${data.length} ${digest(data)} file one.bin`);
        }
        const bad = await ftp.cmd('OPTS HASH SHA-3', 501);
        assert.match(textOf(bad), /Unknown hash algorithm/);
        assert.equal(textOf(await ftp.cmd('OPTS HASH', 200)), 'CRC32', 'a refused OPTS HASH changes nothing');
        await ftp.cmd('HASH dir', 550);
        await ftp.cmd('HASH missing', 550);
      });
    });
  }

  test('hashing a large file streams: another session is answered before the digest', async () => {
    await withClients(async (track) => {
      const a = track(await loggedIn(server(), 'explicit'));
      const b = track(await loggedIn(server(), 'explicit'));
      await a.cmd('OPTS HASH CRC32', 200);
      a.send('HASH big.bin');
      await b.cmd('NOOP', 200);
      assert.ok(a.noPendingReplies, 'the HASH reply came before the other session was answered');
      const r = await a.expect(213, 60_000);
      assert.match(textOf(r), /^CRC32 0-100663296 [0-9a-f]{8} big\.bin$/);
    });
  });
});

/**
 * A backend whose `/held.bin` gives one chunk, then nothing more (a disk that takes minutes to read
 * a large file): a HASH of it stays in progress until something stops it. Its stream ignores the
 * storage signal, so only the server's own abort of the hash can end it.
 */
class HeldStorage extends MemoryStorage {
  /** The last stream of `/held.bin`. */
  opened: Readable | undefined;
  #readingNow = (): void => {};
  /** Resolves once the hash has taken the first chunk and asks for more. */
  readonly reading = new Promise<void>((resolve) => (this.#readingNow = resolve));

  override async openRead(p: VPath, o: { offset: number }, c: StorageContext): Promise<Readable> {
    if (p !== '/held.bin') return super.openRead(p, o, c);
    let first = true;
    const wantMore = (): void => this.#readingNow();
    return (this.opened = new Readable({
      read() {
        if (first) this.push(Buffer.alloc(64 * 1024, 1));
        else wantMore();
        first = false;
      },
    }));
  }
}

describe('ABOR during HASH', { timeout: 60_000 }, () => {
  const storage = new HeldStorage({ files: { '/held.bin': new Uint8Array(1 << 20), '/small.txt': 'abc' } });
  const server = useFerry({ storageFor: () => storage });

  test('stops the hash at once: 426 for HASH, then 226 for ABOR; the file let go, the session goes on', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      ftp.send('HASH held.bin');
      await storage.reading;
      const stat = await ftp.cmd('STAT', 211);
      assert.equal(textOf(stat), 'HASH in progress: 65536 bytes transferred.');
      ftp.send('ABOR');
      assert.equal(textOf(await ftp.expect(426)), 'HASH aborted.');
      assert.equal(textOf(await ftp.expect(226)), 'Abort successful.');
      assert.ok(storage.opened?.destroyed, 'the file is no longer read');
      await ftp.cmd('NOOP', 200);
      const r = await ftp.cmd('HASH small.txt', 213);
      assert.equal(textOf(r), `SHA-256 0-3 ${DIGESTS['SHA-256']?.(Buffer.from('abc'))} small.txt`);
      await ftp.cmd('ABOR', 225);
    });
  });
});

describe('HASH turns and limits', { timeout: 120_000 }, () => {
  const held = ['a1', 'a2', 'a3', 'b', 'c'].map((n) => `/held-${n}.bin`);
  const storage = new GatedStorage({
    files: {
      ...Object.fromEntries(held.map((p) => [p, new Uint8Array(4096)])),
      '/small.txt': 'abc',
      '/huge.bin': new Uint8Array(3 << 20),
    },
  });
  let users: UserTable;
  before(async () => {
    users = await testUsers(
      ['ann', 'bob', 'carl', 'dan'].map((username) => ({
        username,
        password: 'pw',
        home: '/',
        ...(username === 'dan' && { hash: false }),
      })),
    );
  });
  const server = useFerry(() => ({
    authenticator: users,
    storageFor: () => storage,
    limits: { maxHashes: 3, maxHashesPerUser: 2, hashMaxSize: 2 << 20 },
  }));
  const waits = (user: string, from: number) =>
    waitForLog(
      server(),
      (l) => l.msg === 'HASH waits for its turn' && (l.obj as { user?: string }).user === user,
      from,
    );

  test('a user past maxHashesPerUser waits; past maxHashes every user waits, users taking turns', async () => {
    await withClients(async (track) => {
      const [a1, a2, a3] = [
        await loginAs(server(), 'explicit', 'ann', track),
        await loginAs(server(), 'explicit', 'ann', track),
        await loginAs(server(), 'explicit', 'ann', track),
      ];
      const b = await loginAs(server(), 'explicit', 'bob', track);
      const c = await loginAs(server(), 'explicit', 'carl', track);
      a1.send('HASH held-a1.bin');
      a2.send('HASH held-a2.bin');
      await storage.readingCount(2);
      // ann's third HASH waits for one of her two; STAT says so.
      let from = server().logs.length;
      a3.send('HASH held-a3.bin');
      await waits('ann', from);
      assert.equal(textOf(await a3.cmd('STAT', 211)), 'HASH waiting for its turn.');
      // Another user's HASH runs meanwhile: the third of maxHashes.
      b.send('HASH held-b.bin');
      await storage.readingCount(3);
      from = server().logs.length;
      c.send('HASH held-c.bin');
      await waits('carl', from);
      // One of ann's ends: carl, who waited for the server's limit, goes before ann's third.
      storage.finish('/held-a1.bin');
      assert.equal((await a1.expect(213)).code, 213);
      await storage.readingCount(4);
      assert.deepEqual(storage.reading, ['/held-a1.bin', '/held-a2.bin', '/held-b.bin', '/held-c.bin']);
      assert.equal(textOf(await a3.cmd('STAT', 211)), 'HASH waiting for its turn.');
      storage.finish('/held-c.bin');
      assert.match(textOf(await c.expect(213)), / held-c\.bin$/);
      await storage.readingCount(5);
      assert.equal(storage.reading[4], '/held-a3.bin');
      for (const [ftp, name] of [
        [a2, 'a2'],
        [a3, 'a3'],
        [b, 'b'],
      ] as const) {
        storage.finish(`/held-${name}.bin`);
        assert.match(textOf(await ftp.expect(213)), new RegExp(` held-${name}\\.bin$`));
      }
    });
  });

  test('ABOR and QUIT end a HASH waiting its turn (426); its session goes on after ABOR', async () => {
    storage.reading.length = 0;
    await withClients(async (track) => {
      const [a1, a2, a3] = [
        await loginAs(server(), 'explicit', 'ann', track),
        await loginAs(server(), 'explicit', 'ann', track),
        await loginAs(server(), 'explicit', 'ann', track),
      ];
      a1.send('HASH held-a1.bin');
      a2.send('HASH held-a2.bin');
      await storage.readingCount(2);
      let from = server().logs.length;
      a3.send('HASH small.txt');
      await waits('ann', from);
      a3.send('ABOR');
      assert.equal(textOf(await a3.expect(426)), 'HASH aborted.');
      await a3.expect(226);
      await a3.cmd('NOOP', 200);
      from = server().logs.length;
      a3.send('HASH small.txt');
      await waits('ann', from);
      a3.send('QUIT');
      assert.equal(textOf(await a3.expect(426)), 'HASH aborted.');
      await a3.expect(221);
      for (const [ftp, p] of [
        [a1, '/held-a1.bin'],
        [a2, '/held-a2.bin'],
      ] as const) {
        storage.finish(p);
        await ftp.expect(213);
      }
    });
  });

  test('hashMaxSize refuses a larger file (550); hash: false leaves HASH out of FEAT and refuses it (502)', async () => {
    await withClients(async (track) => {
      const ann = await loginAs(server(), 'explicit', 'ann', track);
      assert.equal(
        textOf(await ann.cmd('HASH huge.bin', 550)),
        'File too large to hash (over 2097152 bytes).',
      );
      await ann.cmd('HASH small.txt', 213);
      const featOf = async (ftp: typeof ann) => (await ftp.cmd('FEAT', 211)).lines.map((l) => l.trim());
      assert.ok((await featOf(ann)).some((l) => l.startsWith('HASH ')));
      const dan = await loginAs(server(), 'explicit', 'dan', track);
      assert.ok(!(await featOf(dan)).some((l) => l.startsWith('HASH')));
      assert.equal(textOf(await dan.cmd('HASH small.txt', 502)), 'HASH is off for this account.');
    });
  });
});
