/**
 * A replacing upload is cut: the old version stays (uploads are atomic). curl `-C - -T` asks SIZE
 * and, when the remote file is not smaller than the local one, sends nothing and exits 0: the old
 * file stayed, reported a success. So the user whose replacement was cut gets no size for that
 * version (SIZE 504, MLST without `size`), and curl uploads the file whole; its plain download of
 * the file still works (550 would be "no such file" to curl). lftp `put -c` and `get` likewise.
 * Other users see the file as it is.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import {
  curlDownload,
  curlUpload,
  expectSuccess,
  lftp,
  lftpQuote,
  type FtpsTarget,
} from '../support/clients.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { loginAs, textOf, useFerry, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

let dir: string;
let home: string;
let table: UserTable;

describe('the size of a file a cut upload left, to its uploader', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-withheld-'));
    home = path.join(dir, 'home');
    await mkdir(home);
    // Two accounts on one tree: a cut record is the uploader's, not the file's.
    table = await testUsers([
      { username: 'gui', password: 'pw', home },
      { username: 'other', password: 'pw', home },
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const server = useFerry(() => ({ authenticator: table }));

  const target = (user: string): FtpsTarget => ({
    host: server().host,
    port: server().implicitPort,
    user,
    password: 'pw',
    implicit: true,
  });

  /** `name` holds `old`; gui's replacement of it is cut: `old` stays. */
  async function cutReplacement(track: (c: RawFtp) => RawFtp, name: string, old: Buffer): Promise<RawFtp> {
    await writeFile(path.join(home, name), old);
    const gui = await loginAs(server(), 'implicit', 'gui', track);
    await gui.cmd('TYPE I', 200);
    const conn = await gui.openData(await gui.epsv(), { tls: true });
    await gui.cmd(`STOR ${name}`, 150);
    await gui.uploadTruncated(conn, randomBytes(1000));
    await gui.expect(426);
    assert.deepEqual(await readFile(path.join(home, name)), old, 'the old version stays');
    return gui;
  }

  for (const [what, newSize] of [
    ['as large as', 300_000],
    ['smaller than', 200_000],
  ] as const) {
    test(`curl -C - -T of a new version ${what} the old one uploads it whole`, async () => {
      const name = `doc-${newSize}.bin`;
      const [oldVersion, newVersion] = [randomBytes(300_000), randomBytes(newSize)];
      const local = path.join(dir, name);
      await writeFile(local, newVersion);
      await withClients(async (track) => {
        await cutReplacement(track, name, oldVersion);
        expectSuccess(await curlUpload(target('gui'), local, name, ['--continue-at', '-']), 'curl -C - -T');
      });
      assert.deepEqual(await readFile(path.join(home, name)), newVersion);
    });
  }

  test('lftp get brings the old version; lftp put -c then uploads the new one whole', async () => {
    const name = 'lftp.bin';
    const [oldVersion, newVersion] = [randomBytes(300_000), randomBytes(300_000)];
    const work = await mkdtemp(path.join(dir, 'lftp-'));
    await writeFile(path.join(work, 'new.bin'), newVersion);
    await withClients(async (track) => {
      await cutReplacement(track, name, oldVersion);
      const run = await lftp(
        target('gui'),
        [`get ${lftpQuote(name)} -o got.bin`, `put -c new.bin -o ${lftpQuote(name)}`],
        {
          cwd: work,
        },
      );
      expectSuccess(run, 'lftp');
    });
    assert.deepEqual(await readFile(path.join(work, 'got.bin')), oldVersion);
    assert.deepEqual(await readFile(path.join(home, name)), newVersion);
  });

  test('the uploader downloads the old version with curl; SIZE and MLST give it no size; others see the size', async () => {
    const name = 'kept.bin';
    const oldVersion = randomBytes(300_000);
    await withClients(async (track) => {
      const gui = await cutReplacement(track, name, oldVersion);
      const got = path.join(dir, 'got.bin');
      expectSuccess(await curlDownload(target('gui'), name, got), 'curl download');
      assert.deepEqual(await readFile(got), oldVersion);

      const size = await gui.cmd(`SIZE ${name}`, 504);
      assert.match(textOf(size), /an upload of this file has not completed.*: upload it whole\.$/);
      const mlst = textOf(await gui.cmd(`MLST ${name}`, 250));
      assert.match(mlst, /type=file;/);
      assert.doesNotMatch(mlst, /size=/);
      const other = await loginAs(server(), 'implicit', 'other', track);
      await other.cmd('TYPE I', 200);
      assert.equal(textOf(await other.cmd(`SIZE ${name}`, 213)), '300000');
      assert.match(textOf(await other.cmd(`MLST ${name}`, 250)), /size=300000;/);

      // Once the file changes (a whole upload here), its size is given again.
      const [, stored] = await gui.store(name, Buffer.from('new'));
      assert.equal(stored.code, 226, textOf(stored));
      assert.equal(textOf(await gui.cmd(`SIZE ${name}`, 213)), '3');
      assert.match(textOf(await gui.cmd(`MLST ${name}`, 250)), /size=3;/);
    });
  });

  test('while the same user’s replacement still runs, SIZE from another session says the upload has not completed', async () => {
    const name = 'running.bin';
    await writeFile(path.join(home, name), randomBytes(3000));
    await withClients(async (track) => {
      const gui = await loginAs(server(), 'implicit', 'gui', track);
      await gui.cmd('TYPE I', 200);
      const conn = await gui.openData(await gui.epsv(), { tls: true });
      await gui.cmd(`STOR ${name}`, 150); // its record is written before the 150; the upload runs
      // The client's retry after a drop the server has not seen yet: a new session of the user.
      const again = await loginAs(server(), 'implicit', 'gui', track);
      await again.cmd('TYPE I', 200);
      const size = textOf(await again.cmd(`SIZE ${name}`, 504));
      assert.match(size, /^Size not given: an upload of this file has not completed, /);
      await gui.uploadTruncated(conn, randomBytes(1000));
      await gui.expect(426);
    });
  });
});
