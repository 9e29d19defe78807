/**
 * A drop box without `overwrite`: two uploads of one name that overlap. The one that commits first
 * keeps the name; the other, admitted while the name was free, replaces nothing (551 after its 150).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onlyReads } from '../../src/auth/permissions.js';
import { UserTable } from '../../src/auth/users.js';
import { userTree } from '../../src/cli/user-storage.js';
import { loginAs, storeAll, textOf, useFerry, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

let dir: string;
let table: UserTable;
describe('drop box: overlapping uploads of one name', { timeout: 60_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-dropbox-race-'));
    await mkdir(path.join(dir, 'home/incoming'), { recursive: true });
    const permissions = { '/': ['list'], '/incoming': ['list', 'upload'] } as const;
    table = await testUsers([
      { username: 'cust', password: 'pw', home: path.join(dir, 'home'), permissions },
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const server = useFerry(() => ({ authenticator: table, storageFor: (p) => userTree(p, onlyReads(p)) }));

  test('the upload begun first but finished last replaces nothing', async () => {
    await withClients(async (track) => {
      const [a, b] = [
        await loginAs(server(), 'explicit', 'cust', track),
        await loginAs(server(), 'explicit', 'cust', track),
      ];
      // b is admitted while the name is free (only `upload` needed) and gets its 150.
      const plain = await b.openData(await b.epsv(), { tls: false });
      await b.cmd('STOR /incoming/order.csv', 150);
      const conn = await b.secureData(plain);
      // a stores the same name whole meanwhile.
      assert.equal((await storeAll(a, 'STOR /incoming/order.csv', Buffer.from('A-ORDER'))).code, 226);
      await b.uploadClean(conn, Buffer.from('B-LATE'));
      const rb = await b.expect();
      assert.equal(rb.code, 551, textOf(rb));
      assert.equal(textOf(rb), 'Permission denied: overwrite');
      assert.equal(await readFile(path.join(dir, 'home/incoming/order.csv'), 'utf8'), 'A-ORDER');
      assert.deepEqual(await readdir(path.join(dir, 'home/incoming')), ['order.csv']); // b's temp file gone
    });
  });
});
