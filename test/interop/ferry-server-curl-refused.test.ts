/**
 * Real curl against Ferry's server: an upload refused once its data connection is already there
 * (curl connects and sends its ClientHello right after EPSV, before STOR). Curl must read the
 * refusal as the upload's (exit 25, "Failed FTP upload: 553"), as against vsftpd: a data connection
 * reset before the reply made it take the 553 for the answer to a PASV it then sent (exit 13).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { curlUpload } from '../support/clients.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { MODES, targetsOf, tempDir } from './ferry-server-helpers.js';

/** curl's exit code for a refused upload (CURLE_UPLOAD_FAILED). */
const UPLOAD_FAILED = 25;

describe('curl: an upload refused after its data connection was accepted', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let work: { dir: string; remove: () => Promise<void> };
  let file = '';

  before(async () => {
    ts = await startFerry();
    work = await tempDir('ferry-curl-refused-');
    file = path.join(work.dir, 'f.txt');
    await writeFile(file, 'some bytes\n');
    await mkdir(path.join(ts.root, 'dir'));
  });

  after(async () => {
    await ts?.close();
    await work?.remove();
  });

  const cases = [
    { name: 'STOR onto a directory', remote: '/dir', args: [] },
    { name: 'STOR into a missing directory', remote: '/nodir/f.txt', args: ['--ftp-method', 'nocwd'] },
    { name: 'APPE onto a directory', remote: '/dir', args: ['--append'] },
  ];
  for (const mode of MODES)
    for (const c of cases)
      it(`${mode}: ${c.name}: exit 25, Failed FTP upload`, async () => {
        const r = await curlUpload(targetsOf(ts)[mode], file, c.remote, c.args);
        assert.equal(r.code, UPLOAD_FAILED, r.stderr);
        assert.match(r.stderr, /Failed FTP upload: 55\d/);
      });
});
