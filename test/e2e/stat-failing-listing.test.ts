/**
 * `STAT <dir>` whose listing fails part way: when no entry has been sent yet (a sorted listing
 * gathers them all first) the client gets 450, not a 212 that reads as an empty directory; when
 * some have (`STAT -U`, the directory's own order), those stay, and the end line says it stopped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import { forwardingStorage } from '../support/forwarding-storage.js';
import { loggedIn, textOf, useFerry, withClients } from './harness.js';

/** /d lists its first batch, then its backend fails. */
function failingAfterFirstBatch(): ReturnType<typeof forwardingStorage> {
  const inner = new MemoryStorage({ files: { '/d/a.txt': 'a', '/d/b.txt': 'b' } });
  return forwardingStorage(inner, {
    async *list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
      for await (const batch of inner.list(dir, c)) yield batch;
      if (dir === '/d') throw new Error('backend connection reset');
    },
  });
}

describe('STAT of a directory whose listing fails after its first batch', { timeout: 60_000 }, () => {
  const server = useFerry({ storageFor: failingAfterFirstBatch });

  test('sorted (nothing sent yet): 450, no entries, no 212', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      const r = await ftp.cmd('STAT d', 450);
      assert.equal(textOf(r), 'The listing of /d could not be read.');
    });
  });

  test('in its own order (-U): the entries sent stay, the 212 says it stopped early', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      const text = textOf(await ftp.cmd('STAT -U d', 212));
      assert.match(text, /a\.txt/);
      assert.match(text, /End of status: the listing stopped early\.$/);
    });
  });

  test('a directory that lists whole (empty too) still ends in 212 End of status', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      await ftp.cmd('MKD empty', 257);
      assert.match(textOf(await ftp.cmd('STAT empty', 212)), /^Status of \/empty:.*End of status\.$/s);
    });
  });
});
