import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalStorage } from '../../src/storage/local.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { textOf } from '../support/raw-ftp.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { loggedIn, withClients } from './harness.js';

/**
 * A read-only filesystem (a tmpfs remounted ro; the tests run as root, as CI does): uploads are
 * refused before the 150 with 550, as DELE and MKD are, not 150 then 451 ("try again", which lftp
 * did a thousand times), and the refusal leaves no cut-upload record refusing a later APPE.
 */
describe('read-only storage', () => {
  let disk: Tmpfs;
  let mount: string;
  let ts: TestServer;

  before(async () => {
    disk = await mountTmpfs('ferry-ro-', { sizeBytes: 1024 * 1024 });
    mount = disk.path;
    await writeFile(path.join(mount, 'keep.txt'), 'old\n');
    await disk.remount('ro');
    ts = await startFerry({ storageFor: () => new LocalStorage({ root: mount }) });
  });

  after(async () => {
    await ts?.close();
    await disk?.unmount();
  });

  test('STOR, APPE and REST + STOR get 553 (APPE 550) before any 150; once writable again APPE works', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'explicit'));
      await ftp.cmd('TYPE I', 200);
      for (const [rest, cmd, code] of [
        [false, 'STOR keep.txt', 553], // RFC 959 gives STOR no 550
        [false, 'STOR new.txt', 553],
        [false, 'APPE keep.txt', 550],
        [true, 'STOR keep.txt', 553],
      ] as const) {
        await ftp.openData(await ftp.epsv(), { tls: false });
        if (rest) await ftp.cmd('REST 2', 350);
        const r = await ftp.cmd(cmd);
        assert.deepEqual(
          [r.code, textOf(r)],
          [code, 'Permission denied.'],
          `${cmd}: one ${code} (was 150, then 451)`,
        );
        await ftp.cmd('NLST', 425); // nothing followed, and the data connection went with the refusal
      }
      await disk.remount('rw');
      const [, appended] = await ftp.store('keep.txt', Buffer.from('more\n'), 'APPE');
      assert.equal(appended.code, 226, `no cut record: ${textOf(appended)}`);
      assert.equal(await readFile(path.join(mount, 'keep.txt'), 'utf8'), 'old\nmore\n');
      assert.deepEqual((await readdir(mount)).sort(), ['keep.txt']);
    });
  });
});
