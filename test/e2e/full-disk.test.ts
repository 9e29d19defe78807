import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalStorage } from '../../src/storage/local.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { loggedIn, MODES, withClients } from './harness.js';

/** A file more than half the 1 MiB disk: a second copy of it does not fit. */
const PART = 600 * 1024;

/** A real full disk: the user's root is a 1 MiB tmpfs (the tests run as root, as CI does). */
describe('full disk', () => {
  let disk: Tmpfs;
  let mount: string;
  let ts: TestServer;

  before(async () => {
    disk = await mountTmpfs('ferry-full-', { sizeBytes: 1024 * 1024 });
    mount = disk.path;
    ts = await startFerry({ storageFor: () => new LocalStorage({ root: mount }) });
  });

  after(async () => {
    await ts?.close();
    await disk?.unmount();
  });

  for (const mode of MODES) {
    test(`${mode}: an upload that does not fit gets 552, the previous file stays, nothing is left behind`, async () => {
      const previous = randomBytes(100 * 1024);
      await writeFile(path.join(mount, `keep-${mode}.bin`), previous);
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('TYPE I', 200);
        const [opening, done] = await ftp
          .store(`keep-${mode}.bin`, randomBytes(2 * 1024 * 1024))
          .catch(async (err: unknown) => {
            // The server may close the data connection while we still send: the reply still comes.
            if (!(err instanceof Error)) throw err;
            return [undefined, await ftp.expect()] as const;
          });
        if (opening) assert.equal(opening.code, 150);
        assert.equal(done.code, 552, done.lines.join('\n'));
        assert.doesNotMatch(done.lines.join(' '), new RegExp(mount));
        assert.deepEqual(await readFile(path.join(mount, `keep-${mode}.bin`)), previous);
        assert.deepEqual(
          (await readdir(mount)).filter((n) => n.includes('.ferry-upload-')),
          [],
          'temporary upload files left behind',
        );
        // The session goes on, and a small upload fits again.
        const [, small] = await ftp.store(`small-${mode}.txt`, Buffer.from('fits\n'));
        assert.equal(small.code, 226);
        assert.equal(await readFile(path.join(mount, `small-${mode}.txt`), 'utf8'), 'fits\n');
      });
    });

    test(`${mode}: the rest of an upload that fills the disk is read, so the client gets its 552 (no reset, which lftp retries forever)`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('TYPE I', 200);
        const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
        await ftp.cmd(`STOR drain-${mode}.bin`, 150);
        // 16 MiB: far more than the disk and loopback's socket buffers, so a reset would fail the write.
        await ftp.uploadClean(conn, randomBytes(16 * 1024 * 1024));
        assert.equal((await ftp.expect()).code, 552);
        assert.deepEqual(
          (await readdir(mount)).filter((n) => n.includes('drain-') || n.includes('.ferry-upload-')),
          [],
        );
      });
    });

    // APPE and REST STOR first copy the kept bytes into the new version: on a full disk that copy
    // fails before storage reads any of the upload, which must be drained all the same.
    for (const [how, rest] of [
      ['APPE', false],
      ['REST + STOR', true],
    ] as const)
      test(`${mode}: ${how} whose kept bytes do not fit is drained and gets 552 (no reset)`, async () => {
        const name = `part-${mode}.bin`;
        const part = randomBytes(PART);
        await writeFile(path.join(mount, name), part);
        try {
          await withClients(async (track) => {
            const ftp = track(await loggedIn(ts, mode));
            await ftp.cmd('TYPE I', 200);
            const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
            if (rest) await ftp.cmd(`REST ${PART}`, 350);
            await ftp.cmd(`${rest ? 'STOR' : 'APPE'} ${name}`, 150);
            await ftp.uploadClean(conn, randomBytes(16 * 1024 * 1024));
            const r = await ftp.expect();
            // Saying why: the disk has room left, but not for the copy the new version is built from.
            assert.deepEqual(
              [r.code, r.lines],
              [
                552,
                [
                  `Insufficient storage space: the new version is written beside the old, which needs room for a copy of its ${PART} bytes kept.`,
                ],
              ],
            );
            assert.deepEqual(await readFile(path.join(mount, name)), part);
            assert.deepEqual(
              (await readdir(mount)).filter((n) => n.includes('.ferry-upload-')),
              [],
            );
            await ftp.cmd('NOOP', 200); // the session goes on, in step
          });
        } finally {
          await rm(path.join(mount, name));
        }
      });
  }
});

/** No inodes left (a tmpfs of a few): MKD fails with ENOSPC, as on a full ext4. */
describe('no room for a directory', () => {
  let disk: Tmpfs;
  let ts: TestServer;

  before(async () => {
    disk = await mountTmpfs('ferry-inodes-', { sizeBytes: 1024 * 1024, inodes: 8 });
    const mount = disk.path;
    for (let i = 0; i < 100; i++) {
      const made = await writeFile(path.join(mount, `f${i}`), '').then(
        () => true,
        () => false,
      );
      if (!made) break;
    }
    ts = await startFerry({ storageFor: () => new LocalStorage({ root: mount }) });
  });

  after(async () => {
    await ts?.close();
    await disk?.unmount();
  });

  test('MKD gets 550 saying the disk is full: RFC 959 gives MKD no 552', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'explicit'));
      const r = await ftp.cmd('MKD d');
      assert.deepEqual([r.code, r.lines.join('\n')], [550, "No space left on the server's disk."]);
      await ftp.cmd('NOOP', 200);
    });
  });
});
