/**
 * A paced upload (a user's upload rate) is paced where it is read: the data connection is read no
 * faster than the rate, so what the server counts as received (STAT, `ferry who`, the transfer
 * log) stays within one read of what storage has been given, and the rest waits in the kernel (as
 * vsftpd and ProFTPD sleep between reads). Paced after the read, it ran ~800 KB ahead. The
 * guarantees of an upload hold while paced: ABOR, close_notify, and the idle timeout (not idle).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { withLimits } from '../../src/storage/limited.js';
import { LocalStorage } from '../../src/storage/local.js';
import { chain } from '../../src/storage/stream-chain.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import type { PreparedWrite, StorageContext, VPath } from '../../src/storage/types.js';
import type { TestServer } from '../support/ferry.js';
import { withDeadline, type RawFtp } from '../support/raw-ftp.js';
import { loginAs, MODES, randomData, textOf, useFerry, withClients, type Mode } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const KiB = 1024;
/** The most the server may have received beyond what storage was given: a few reads. */
const AHEAD_BOUND = 64 * KiB;

/** LocalStorage that counts the upload bytes its writes have read, and tells when a count is reached. */
class CountedStorage extends LocalStorage {
  given = 0;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  /** Resolves once writes have read `bytes` in all. */
  reached(bytes: number): Promise<void> {
    if (this.given >= bytes) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ bytes, resolve }));
  }

  override async prepareWrite(
    p: VPath,
    o: { offset: number; append: boolean },
    c: StorageContext,
  ): Promise<PreparedWrite> {
    const prepared = await super.prepareWrite(p, o, c);
    return {
      write: (src: Readable, c2: StorageContext) => prepared.write(this.#counted(src), c2),
      release: () => prepared.release(),
    };
  }

  #counted(src: Readable): Readable {
    const count = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.given += chunk.length;
        this.#waiters = this.#waiters.filter((w) => (this.given >= w.bytes ? (w.resolve(), false) : true));
        done(null, chunk);
      },
    });
    return chain(src, [count]);
  }
}

/** The count STAT reports for the transfer in progress. */
async function statBytes(ftp: RawFtp): Promise<number> {
  const text = textOf(await ftp.cmd('STAT', 211));
  const m = /STOR in progress: (\d+) bytes/.exec(text);
  assert.ok(m, text);
  return Number(m[1]);
}

describe('a paced upload is paced at its data connection', { timeout: 120_000 }, () => {
  let dir: string;
  let table: UserTable;
  const stores = new Map<string, CountedStorage>();
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-paced-up-'));
    const entries = [];
    for (const mode of MODES) {
      const home = path.join(dir, mode);
      await mkdir(home);
      entries.push({ username: `paced-${mode}`, password: 'pw', home, uploadRate: 128 * KiB });
    }
    table = await testUsers(entries);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const rates = new RateBuckets();
  const server: () => TestServer = useFerry(() => ({
    authenticator: table,
    storageFor: (p) => {
      const s = new CountedStorage({ root: p.home });
      stores.set(p.username, s);
      return withLimits(s, p, { rates });
    },
  }));

  // TYPE A: its conversion stage must leave the pacing at the connection (stream-chain.ts).
  const cases: { mode: Mode; type: 'A' | 'I' }[] = [
    ...MODES.map((mode) => ({ mode, type: 'I' as const })),
    { mode: 'explicit', type: 'A' },
  ];
  for (const { mode, type } of cases) {
    test(`${mode}, TYPE ${type}: 4 MiB sent at once, 128 KiB/s: received stays within ${AHEAD_BOUND / KiB} KiB of what storage got; ABOR ends it`, async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(server(), mode, `paced-${mode}`, track);
        if (type === 'A') await ftp.cmd('TYPE A', 200);
        const plain = await ftp.openData(await ftp.epsv(), { tls: false });
        await ftp.cmd('STOR paced', 150);
        const conn = await ftp.secureData(plain);
        conn.stream.resume(); // TLS 1.3 session tickets
        conn.stream.on('error', () => {}); // reset by the ABOR
        conn.stream.write(randomData(4096 * KiB)); // all of it at once: the kernels buffer what they can
        const storage = stores.get(`paced-${mode}`);
        assert.ok(storage);
        await storage.reached(256 * KiB);
        const received = await statBytes(ftp);
        // `given` can only have grown since STAT counted: received - given is at most what it was then.
        const ahead = received - storage.given;
        assert.ok(received >= 256 * KiB, `STAT: ${received}`);
        assert.ok(
          ahead <= AHEAD_BOUND,
          `received ${received}, storage given ${storage.given}: ${ahead} ahead`,
        );
        const r1 = await ftp.cmd('ABOR');
        const r2 = await ftp.expect();
        assert.deepEqual([r1.code, r2.code], [426, 226], `${textOf(r1)} / ${textOf(r2)}`);
        await withDeadline(conn.closed, ftp.timeoutMs, 'the server to close the aborted data connection');
        assert.deepEqual(await readdir(path.join(dir, mode)), [], 'nothing stored, no temp file left');
        await ftp.cmd('NOOP', 200);
      });
    });
  }

  for (const mode of MODES) {
    test(`${mode}: a paced upload cut without close_notify gets 426 and stores nothing`, async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(server(), mode, `paced-${mode}`, track);
        const plain = await ftp.openData(await ftp.epsv(), { tls: false });
        await ftp.cmd('STOR cut', 150);
        await ftp.uploadTruncated(await ftp.secureData(plain), randomData(64 * KiB));
        const r = await ftp.expect();
        assert.equal(r.code, 426, textOf(r));
        assert.deepEqual(await readdir(path.join(dir, mode)), []);
      });
    });
  }
});

describe('a paced upload waiting for its rate is not idle', { timeout: 60_000 }, () => {
  let dir: string;
  let table: UserTable;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-paced-idle-'));
    table = await testUsers([{ username: 'slow', password: 'pw', home: dir, uploadRate: 64 * KiB }]);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const rates = new RateBuckets();
  // TCP is read 64 KiB at a time, then waits about a second for the rate: longer than the idle timeout.
  const server = useFerry(() => ({
    authenticator: table,
    storageFor: (p) => withLimits(new LocalStorage({ root: p.home }), p, { rates }),
    timeouts: { dataIdleMs: 300 },
  }));

  const mode: Mode = 'explicit';
  test('256 KiB at 64 KiB/s with a 300 ms data idle timeout: 226, all of it stored', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), mode, 'slow', track);
      const bytes = randomData(256 * KiB);
      const [, r] = await ftp.store('slow', bytes);
      assert.equal(r.code, 226, textOf(r));
      assert.deepEqual(await readFile(path.join(dir, 'slow')), bytes);
    });
  });
});
