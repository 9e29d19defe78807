/**
 * Quotas per user (issue 9), over both modes: an upload exactly at the limit passes; one that
 * crosses it is read to its end and gets 552, with the old file intact and no temp file left (one
 * already over gets 552 before its 150); only
 * growth counts (overwrite, APPE, REST STOR); DELE and a replacing RNTO free space; the file-count
 * quota. The server is built as `ferry serve` builds it: LocalStorage inside withLimits, usage kept
 * in a UsageFile.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PlainUserEntry } from '../../src/auth/users.js';
import { UserTable } from '../../src/auth/users.js';
import { UsageFile } from '../../src/auth/usage-file.js';
import { withLimits } from '../../src/storage/limited.js';
import { LocalStorage } from '../../src/storage/local.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { hostDeepTree, undoHostDeepTree } from '../../src/storage/test-support.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import { ftplib } from '../support/clients.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { uploadUnderWay } from '../support/ftps-session.js';
import {
  loginAs,
  MODES,
  randomData,
  storeAll,
  textOf,
  useFerry,
  waitForLog,
  withClients,
  type Mode,
} from './harness.js';
import type { TestServer } from '../support/ferry.js';
import { testUsers } from '../support/test-hashes.js';

let dir: string;
let usage: UsageFile;
let book: QuotaBook;
let table: UserTable;
const homes = new Map<string, string>();
/** Per mode: the deep user's directory whose entry `L15…` has a path too long (hostDeepTree). */
const deepDirs = new Map<Mode, string>();
let server: () => TestServer;

/** One user per case and mode, each with a fresh home and its own limits. */
const CASES: Record<string, { quotaSize?: number; quotaFiles?: number; files?: Record<string, Buffer> }> = {
  exact: { quotaSize: 1000 },
  crossing: { quotaSize: 1024 * 1024, files: { f: randomData(100 * 1024) } },
  hangup: { quotaSize: 1024 * 1024 },
  drain: { quotaSize: 1024 * 1024, files: { f: randomData(1000) } },
  ftplib: { quotaSize: 1024 * 1024 },
  overwrite: { quotaSize: 1000, files: { f: randomData(600) } },
  cut: { quotaSize: 1024 * 1024 },
  appe: { quotaSize: 1000, files: { f: randomData(600) } },
  resumable: { quotaSize: 1000, files: { f: randomData(600) } },
  rest: { quotaSize: 1000, files: { f: randomData(800) } },
  dele: { quotaSize: 1000 },
  count: { quotaFiles: 2 },
  concurrent: { quotaSize: 1024 * 1024 },
  deep: { quotaSize: 1024 * 1024 },
};

const userOf = (c: string, mode: Mode): string => `${c}-${mode}`;
const homeOf = (c: string, mode: Mode): string => homes.get(userOf(c, mode)) ?? '';

const login = (user: string, mode: Mode, track: (c: RawFtp) => RawFtp): Promise<RawFtp> =>
  loginAs(server(), mode, user, track);

async function stored(ftp: RawFtp, line: string, bytes: Uint8Array): Promise<void> {
  const r = await storeAll(ftp, line, bytes);
  assert.equal(r.code, 226, `${line}: ${textOf(r)}`);
}

async function refused(ftp: RawFtp, line: string, bytes: Uint8Array): Promise<void> {
  const r = await storeAll(ftp, line, bytes);
  assert.equal(r.code, 552, `${line}: ${textOf(r)}`);
}

/** A log line's fields. */
const fields = (l: { obj: object }): Record<string, unknown> => l.obj as Record<string, unknown>;

/** The names in the home: no upload temp file may be among them. */
const namesIn = async (home: string): Promise<string[]> => (await readdir(home)).sort();

describe('quotas per user', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-quota-'));
    usage = new UsageFile(path.join(dir, 'usage.json'));
    book = new QuotaBook(usage);
    const entries: PlainUserEntry[] = [];
    for (const mode of MODES) {
      for (const [c, spec] of Object.entries(CASES)) {
        const home = path.join(dir, userOf(c, mode));
        await mkdir(home);
        const { files, ...limits } = spec;
        for (const [name, data] of Object.entries(files ?? {})) await writeFile(path.join(home, name), data);
        homes.set(userOf(c, mode), home);
        entries.push({ username: userOf(c, mode), password: 'pw', home, ...limits });
      }
    }
    table = await testUsers(entries);
    for (const mode of MODES) deepDirs.set(mode, await hostDeepTree(homeOf('deep', mode)));
  });
  after(async () => {
    for (const mode of MODES) await undoHostDeepTree(homeOf('deep', mode));
    await rm(dir, { recursive: true, force: true });
  });
  server = useFerry(() => ({
    authenticator: table,
    storageFor: (p) =>
      withLimits(new LocalStorage({ root: p.home }), p, { usage: book, rates: new RateBuckets() }),
  }));

  for (const mode of MODES) {
    test(`${mode}: two uploads of one user at once share the quota: one of them gets 552`, async () => {
      await withClients(async (track) => {
        const user = userOf('concurrent', mode);
        const [a, b] = [await login(user, mode, track), await login(user, mode, track)];
        const portA = await a.epsv();
        const connA = await a.openData(portA, { tls: a.dataTls });
        await a.cmd('STOR a', 150);
        const piece = randomData(600 * 1024);
        connA.stream.resume();
        connA.stream.write(piece);
        // Until the server is reading A's bytes (STAT counts them), A's upload is in flight.
        for (let i = 0; ; i++) {
          const r = await a.cmd('STAT');
          if (!/ 0 bytes transferred/.test(textOf(r))) break;
          assert.ok(i < 500, 'the server never read the first upload');
        }
        const rb = await storeAll(b, 'STOR b', piece);
        connA.stream.end();
        const ra = await a.expect();
        assert.deepEqual([ra.code, rb.code].sort(), [226, 552], `A: ${textOf(ra)}; B: ${textOf(rb)}`);
        assert.equal((await namesIn(homeOf('concurrent', mode))).length, 1);
        assert.deepEqual(await usage.get(user), { bytes: piece.length, files: 1 });
      });
    });

    test(`${mode}: an entry whose path would pass 4096 characters is left out of listings and of the usage scan; uploads go on`, async () => {
      await withClients(async (track) => {
        const user = userOf('deep', mode);
        const from = server().logs.length; // both modes share the server: this mode's lines only
        const ftp = await login(user, mode, track);
        const dir = deepDirs.get(mode) ?? '';
        // The other entries are listed (the whole listing failed with 553 after its 150).
        assert.equal(await ftp.listing('NLST', dir), `${dir}/a.txt\r\n`);
        assert.match(await ftp.listing('LIST', dir), /^-[^\r\n]* 1 [^\r\n]* a\.txt\r\n$/);
        assert.match(await ftp.listing('MLSD', dir), /^type=file;[^\r\n]* a\.txt\r\n$/);
        const stat = textOf(await ftp.cmd(`STAT ${dir}`, 212));
        assert.match(stat, / a\.txt\nEnd of status\.$/);
        assert.doesNotMatch(stat, /L15/);
        // Usage not counted yet: this upload counts the home first (every STOR got 553 from it).
        await stored(ftp, 'STOR new.bin', randomData(10));
        assert.deepEqual(
          await usage.get(user),
          { bytes: 11, files: 2 },
          'a.txt and new.bin; deep.bin out of reach',
        );
        const line = await waitForLog(
          server(),
          (l) =>
            l.msg.startsWith('listing left out') && (l.obj as { dir?: string }).dir?.endsWith(dir) === true,
          from,
        );
        assert.equal(line.level, 'debug');
      });
    });

    test(`${mode}: an upload exactly at the quota passes; one byte more is 552 and leaves nothing`, async () => {
      await withClients(async (track) => {
        const ftp = await login(userOf('exact', mode), mode, track);
        await stored(ftp, 'STOR a', randomData(1000));
        const from = server().logs.length;
        // Told apart from a full disk (`552 Insufficient storage space.`), in the reply and the log.
        const r = await storeAll(ftp, 'STOR b', randomData(1));
        assert.equal(r.code, 552);
        assert.equal(textOf(r), 'Quota exceeded: 1000 bytes allowed.');
        const line = await waitForLog(
          server(),
          (l) => l.msg === 'transfer' && fields(l).user === userOf('exact', mode),
          from,
        );
        assert.deepEqual(
          [line.level, fields(line).reply, fields(line).reason],
          ['info', 552, 'Quota exceeded: 1000 bytes allowed.'],
        );
        assert.deepEqual(await namesIn(homeOf('exact', mode)), ['a']);
        assert.deepEqual(await usage.get(userOf('exact', mode)), { bytes: 1000, files: 1 });
      });
    });

    test(`${mode}: crossing mid-upload is 552, the old file intact, no temp file left`, async () => {
      await withClients(async (track) => {
        const home = homeOf('crossing', mode);
        const old = await readFile(path.join(home, 'f'));
        const ftp = await login(userOf('crossing', mode), mode, track);
        await refused(ftp, 'STOR f', randomData(4 * 1024 * 1024));
        assert.deepEqual(await readFile(path.join(home, 'f')), old);
        assert.deepEqual(await namesIn(home), ['f']);
        await refused(ftp, 'STOR g', randomData(1024 * 1024 - old.length + 1));
        assert.deepEqual(await namesIn(home), ['f']);
        await stored(ftp, 'STOR g', randomData(1024 * 1024 - old.length));
        assert.deepEqual(await usage.get(userOf('crossing', mode)), { bytes: 1024 * 1024, files: 2 });
      });
    });

    test(`${mode}: crossing mid-upload, the client sends all of it (no reset, which lftp retries forever) and gets 552`, async () => {
      await withClients(async (track) => {
        const home = homeOf('drain', mode);
        const old = await readFile(path.join(home, 'f'));
        const ftp = await login(userOf('drain', mode), mode, track);
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        await ftp.cmd('STOR f', 150);
        // 16 MiB: far more than loopback's socket buffers hold, so a reset would fail the write.
        await ftp.uploadClean(conn, randomData(16 * 1024 * 1024));
        assert.equal((await ftp.expect()).code, 552);
        assert.deepEqual(await readFile(path.join(home, 'f')), old);
        assert.deepEqual(await namesIn(home), ['f']);
        assert.deepEqual(await usage.get(userOf('drain', mode)), { bytes: old.length, files: 1 });
      });
    });

    test(`${mode}: Python ftplib gets its 552 (it waits for our close_notify first) and the next reply is in step`, async () => {
      const user = userOf('ftplib', mode);
      const local = path.join(dir, `ftplib-${mode}.bin`);
      await writeFile(local, randomData(3 * 1024 * 1024));
      const s = server();
      const target = { host: s.host, user, password: 'pw', implicit: mode === 'implicit' };
      const port = mode === 'implicit' ? s.implicitPort : s.explicitPort;
      const run = await ftplib(
        { ...target, port },
        [
          { op: 'login' },
          { op: 'upload', local, remote: 'big' },
          { op: 'raw', command: 'NOOP' },
          { op: 'quit' },
        ],
        { continueOnError: true, strictEof: true },
      );
      const [, up, noop] = run.results;
      assert.equal(up?.code, '552', JSON.stringify(up));
      assert.equal(noop?.code, '200', JSON.stringify(noop));
      assert.deepEqual(await namesIn(homeOf('ftplib', mode)), []);
    });

    test(`${mode}: a client that hangs up once its upload is refused (curl) is logged as 552, not 426`, async () => {
      await withClients(async (track) => {
        const user = userOf('hangup', mode);
        const ftp = await login(user, mode, track);
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        await ftp.cmd('STOR big', 150);
        const from = server().logs.length;
        // As curl: the reset data connection ends the write, and the control connection goes at once.
        await ftp.uploadClean(conn, randomData(4 * 1024 * 1024)).catch(() => {});
        ftp.socket.destroy();
        const line = await waitForLog(server(), (l) => l.msg === 'transfer', from);
        assert.equal((line.obj as { reply?: number }).reply, 552, JSON.stringify(line.obj));
        assert.deepEqual(await namesIn(homeOf('hangup', mode)), []);
      });
    });

    test(`${mode}: an overwrite frees the old size`, async () => {
      await withClients(async (track) => {
        const ftp = await login(userOf('overwrite', mode), mode, track);
        await stored(ftp, 'STOR f', randomData(1000));
        await refused(ftp, 'STOR f', randomData(1001));
        assert.equal((await readFile(path.join(homeOf('overwrite', mode), 'f'))).length, 1000);
        assert.deepEqual(await usage.get(userOf('overwrite', mode)), { bytes: 1000, files: 1 });
      });
    });

    test(`${mode}: an overwrite cut by the client (its session gone) leaves the old file counted`, async () => {
      await withClients(async (track) => {
        const user = userOf('cut', mode);
        const ftp = await login(user, mode, track);
        const old = randomData(600 * 1024);
        await stored(ftp, 'STOR g1', old);
        const conn = await uploadUnderWay(ftp, 'g1', randomData(300 * 1024));
        const from = server().logs.length;
        ftp.socket.resetAndDestroy();
        conn.raw.resetAndDestroy();
        await waitForLog(server(), (l) => l.msg === 'transfer', from);
        assert.ok((await readFile(path.join(homeOf('cut', mode), 'g1'))).equals(old));
        assert.deepEqual(await usage.get(user), { bytes: old.length, files: 1 });
        await refused(await login(user, mode, track), 'STOR g2', randomData(600 * 1024));
      });
    });

    // The client was told nothing was stored (after sending it all), and nothing was: the old file is
    // not the leftover of a cut upload, whose size is withheld and whose resume is refused.
    test(`${mode}: a replacement refused for the quota leaves the old file's SIZE given and its APPE taken`, async () => {
      await withClients(async (track) => {
        const home = homeOf('resumable', mode);
        const old = await readFile(path.join(home, 'f'));
        const ftp = await login(userOf('resumable', mode), mode, track);
        await refused(ftp, 'STOR f', randomData(1001));
        await ftp.cmd('TYPE I', 200);
        const size = await ftp.cmd('SIZE f');
        assert.equal(`${size.code} ${textOf(size)}`, '213 600');
        await stored(ftp, 'APPE f', randomData(400));
        assert.deepEqual((await readFile(path.join(home, 'f'))).subarray(0, 600), old);
      });
    });

    test(`${mode}: APPE counts only what it adds`, async () => {
      await withClients(async (track) => {
        const ftp = await login(userOf('appe', mode), mode, track);
        await stored(ftp, 'APPE f', randomData(400));
        await refused(ftp, 'APPE f', randomData(1));
        assert.equal((await readFile(path.join(homeOf('appe', mode), 'f'))).length, 1000);
        assert.deepEqual(await namesIn(homeOf('appe', mode)), ['f']);
      });
    });

    test(`${mode}: REST STOR counts only the growth past the old end`, async () => {
      await withClients(async (track) => {
        const ftp = await login(userOf('rest', mode), mode, track);
        await ftp.cmd('REST 800', 350);
        await stored(ftp, 'STOR f', randomData(200)); // 800 + 200 = the quota
        await ftp.cmd('REST 500', 350);
        await stored(ftp, 'STOR f', randomData(500)); // rewrites the tail: no growth
        await ftp.cmd('REST 500', 350);
        await refused(ftp, 'STOR f', randomData(501));
        assert.equal((await readFile(path.join(homeOf('rest', mode), 'f'))).length, 1000);
        assert.deepEqual(await usage.get(userOf('rest', mode)), { bytes: 1000, files: 1 });
      });
    });

    test(`${mode}: DELE frees space`, async () => {
      await withClients(async (track) => {
        const ftp = await login(userOf('dele', mode), mode, track);
        await stored(ftp, 'STOR a', randomData(1000));
        await refused(ftp, 'STOR b', randomData(10));
        await ftp.cmd('DELE a', 250);
        assert.deepEqual(await usage.get(userOf('dele', mode)), { bytes: 0, files: 0 });
        await stored(ftp, 'STOR b', randomData(10));
      });
    });

    test(`${mode}: the file-count quota (STOR, STOU); overwrites pass, RNTO over a file and DELE free one`, async () => {
      await withClients(async (track) => {
        const ftp = await login(userOf('count', mode), mode, track);
        await stored(ftp, 'STOR a', randomData(10));
        await stored(ftp, 'STOR b', randomData(10));
        await refused(ftp, 'STOR c', randomData(10));
        await ftp.epsv();
        const from = server().logs.length;
        const early = await ftp.cmd('STOR c');
        assert.equal(early.code, 552);
        assert.equal(
          textOf(early),
          'Quota exceeded: 2 files allowed.',
          'refused before its 150: no data connection taken',
        );
        const line = await waitForLog(
          server(),
          (l) => l.msg === 'refused' && fields(l).user === userOf('count', mode),
          from,
        );
        assert.deepEqual(
          [line.level, fields(line).command, fields(line).reason],
          ['info', 'STOR', 'Quota exceeded: 2 files allowed.'],
        );
        await stored(ftp, 'STOR a', randomData(20));
        await ftp.cmd('RNFR b', 350);
        await ftp.cmd('RNTO a', 250);
        assert.deepEqual(await usage.get(userOf('count', mode)), { bytes: 10, files: 1 });
        await stored(ftp, 'STOR c', randomData(10));
        assert.deepEqual(await namesIn(homeOf('count', mode)), ['a', 'c']);
        await refused(ftp, 'STOU', randomData(10));
        await ftp.cmd('DELE c', 250);
        await stored(ftp, 'STOU', randomData(10));
        assert.equal((await namesIn(homeOf('count', mode))).length, 2);
        assert.deepEqual(await usage.get(userOf('count', mode)), { bytes: 20, files: 2 });
      });
    });
  }
});
