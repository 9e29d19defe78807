/**
 * APPE onto a big file: the kept bytes are copied into the new version while the client's come, and
 * the data timeout does not blame storage while that copy moves (it runs on after the client's last
 * byte). Before, the copy ran first: the client's bytes waited unread (curl gave up after its 60 s
 * response timeout), and the data timeout answered 451 `storage took or gave no bytes`.
 */
import assert from 'node:assert/strict';
import { open, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loggedIn, randomData, textOf, useFerry, withClients } from './harness.js';

/** A file of holes: copied as zeros read (some seconds), far longer than the data timeout below. */
const KEPT = 2 ** 30;

describe('a resumed upload onto a big file', { timeout: 120_000 }, () => {
  const server = useFerry({ timeouts: { dataIdleMs: 500 } });

  test('APPE: 226 once the copy is done, the new version the old bytes then the new', async () => {
    const ts = server();
    const file = path.join(ts.root, 'big.bin');
    await (await open(file, 'w')).close();
    await truncate(file, KEPT);
    const added = randomData(1024 * 1024);
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      const [, done] = await ftp.store('big.bin', added, 'APPE');
      assert.equal(done.code, 226, textOf(done));
    });
    assert.equal((await stat(file)).size, KEPT + added.length);
    const tail = Buffer.alloc(added.length);
    const fh = await open(file, 'r');
    try {
      await fh.read(tail, 0, tail.length, KEPT);
    } finally {
      await fh.close();
    }
    assert.ok(tail.equals(added), 'the new bytes after the kept ones');
  });
});
