/**
 * Real curl and Python ftplib against Ferry's server: an upload whose storage fails once it has
 * taken part of it (EIO) reports the server's 451, in both modes. Its data connection was reset
 * before that reply: curl said "Send failure: Connection reset by peer" (exit 55), ftplib raised
 * SSLEOFError, neither reading the 451. (lftp reads the 451 too, and retries the upload: a 4xx is
 * transient to it, and each attempt makes progress, so it is left out here.)
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { curlUpload, ftplib } from '../support/clients.js';
import { FailingWrites } from '../support/failing-writes.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { MB, MODES, targetsOf, tempDir, writeRandomFile } from './ferry-server-helpers.js';

/** curl's exit code when the server's final reply is not a success (CURLE_PARTIAL_FILE). */
const NOT_OK = 18;

describe('real clients: an upload whose storage fails part way', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let work: { dir: string; remove: () => Promise<void> };
  let file = '';

  before(async () => {
    ts = await startFerry({ storageFor: () => new FailingWrites() });
    work = await tempDir('ferry-failed-upload-');
    file = path.join(work.dir, 'up.bin');
    await writeRandomFile(file, 8 * MB);
  });

  after(async () => {
    await ts?.close();
    await work?.remove();
  });

  for (const mode of MODES) {
    it(`${mode}: curl reports the 451`, async () => {
      const r = await curlUpload(targetsOf(ts)[mode], file, '/eio.bin');
      assert.equal(r.code, NOT_OK, r.stderr);
      assert.match(r.stderr, /server did not report OK, got 451/);
    });

    it(`${mode}: ftplib reports the 451`, async () => {
      const run = await ftplib(targetsOf(ts)[mode], [
        { op: 'login' },
        { op: 'upload', local: file, remote: '/eio.bin' },
      ]);
      const up = run.results.at(-1);
      assert.equal(up?.op, 'upload', run.error ?? run.stderr);
      assert.equal(up.ok, false);
      assert.equal(up.code, '451', up.error);
    });
  }
});
