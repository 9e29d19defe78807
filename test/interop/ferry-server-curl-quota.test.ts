/**
 * Real curl and lftp, many at once from one address, against a user whose quota has run out: every
 * upload is refused (552) before its 150, while each client's data connection is already there
 * (curl connects and sends its ClientHello right after EPSV). Each must report the quota's 552 as
 * its upload's refusal (curl: exit 25, "Failed FTP upload: 552"), never take it for the reply to a
 * PASV it sent because its data connection was cut first (exit 13, "Bad PASV/EPSV response: 552").
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { UsageFile } from '../../src/auth/usage-file.js';
import { withLimits } from '../../src/storage/limited.js';
import { LocalStorage } from '../../src/storage/local.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import { curlUpload, lftp, type ClientResult } from '../support/clients.js';
import { startFerry, warmedTable, type TestServer } from '../support/ferry.js';
import { MODES, targetsOf, tempDir } from './ferry-server-helpers.js';

/** curl's exit code for a refused upload (CURLE_UPLOAD_FAILED). */
const UPLOAD_FAILED = 25;
/** Clients at once, as the report that found it ran them. */
const PARALLEL = 48;

/** `n` runs of `run` at once; their results. */
function atOnce(n: number, run: (i: number) => Promise<ClientResult>): Promise<ClientResult[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => run(i)));
}

/** The results that are not `expected`, each with curl's or lftp's own words. */
function others(results: readonly ClientResult[], expected: (r: ClientResult) => boolean): string[] {
  return results.filter((r) => !expected(r)).map((r) => `exit ${r.code}: ${r.stderr.trim()}`);
}

describe(
  'a user over quota: many clients at once each read the 552 as their upload refused',
  { timeout: 300_000 },
  () => {
    let ts: TestServer;
    let work: { dir: string; remove: () => Promise<void> };
    let file = '';

    before(async () => {
      work = await tempDir('ferry-curl-quota-');
      const home = path.join(work.dir, 'home');
      await mkdir(path.join(home, 'dir'), { recursive: true });
      // The file quota is used up: each new file is over it before its first byte.
      await writeFile(path.join(home, 'kept.txt'), 'the one file allowed\n');
      const book = new QuotaBook(new UsageFile(path.join(work.dir, 'usage.json')));
      // Logins from the cache (no scrypt each), and the per-address limits before login above the
      // clients at once: one office behind one address, as the report had it.
      const users = await warmedTable([{ username: 'alice', password: 'secret', home, quotaFiles: 1 }]);
      const perAddress = 2 * PARALLEL;
      ts = await startFerry({
        authenticator: users,
        storageFor: (p) =>
          withLimits(new LocalStorage({ root: p.home }), p, { usage: book, rates: new RateBuckets() }),
        limits: {
          maxUnauthenticatedPerAddress: perAddress,
          maxPassivePerAddress: perAddress,
          maxPassivePerUser: perAddress,
          maxPasswordChecksPerAddress: 2,
        },
      });
      file = path.join(work.dir, 'upload.bin');
      await writeFile(file, Buffer.alloc(64 * 1024, 7));
    });

    after(async () => {
      await ts?.close();
      await work?.remove();
    });

    for (const mode of MODES) {
      it(`${mode}: ${PARALLEL} curl uploads at once: each exits 25, Failed FTP upload: 552`, async () => {
        const results = await atOnce(PARALLEL, () => curlUpload(targetsOf(ts)[mode], file, '/dir/'));
        assert.deepEqual(
          others(results, (r) => r.code === UPLOAD_FAILED && /Failed FTP upload: 552/.test(r.stderr)),
          [],
        );
      });

      it(`${mode}: ${PARALLEL / 3} lftp puts at once: each fails with the quota's 552`, async () => {
        const results = await atOnce(PARALLEL / 3, (i) =>
          lftp(targetsOf(ts)[mode], [`put ${file} -o /dir/lftp-${i}.bin`]),
        );
        assert.deepEqual(
          others(results, (r) => r.code !== 0 && /552 Quota exceeded/.test(r.stderr)),
          [],
        );
      });
    }
  },
);
