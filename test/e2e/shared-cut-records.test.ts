/**
 * The cut-upload records shared between nodes (the `sharedCutUploads` option; PostgreSQL in
 * production, a counting map here): a replacing STOR writes its record in one call, which also says
 * whether another node's stood (no separate read: a database round trip per upload), and a record
 * another node's cut left still guards the file after this node's STOR got no data connection.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { CutRecord, SharedCutUploads } from '../../src/shared-cut-uploads.js';
import { LocalStorage } from '../../src/storage/local.js';
import { loggedIn, startServer, textOf, useFerry, withClients } from './harness.js';

/** The records in a map (expiry and bounds are PostgreSQL's business), and the calls made. */
class CountingCuts implements SharedCutUploads {
  readonly records = new Map<string, CutRecord>();
  readonly calls = { put: 0, delete: 0, get: 0 };

  put(username: string, p: string, r: CutRecord): Promise<CutRecord | undefined> {
    this.calls.put++;
    const before = this.records.get(`${username}:${p}`);
    this.records.set(`${username}:${p}`, r);
    return Promise.resolve(before);
  }

  delete(username: string, p: string, at?: number): Promise<void> {
    this.calls.delete++;
    if (at === undefined || this.records.get(`${username}:${p}`)?.at === at)
      this.records.delete(`${username}:${p}`);
    return Promise.resolve();
  }

  get(username: string, p: string): Promise<CutRecord | undefined> {
    this.calls.get++;
    return Promise.resolve(this.records.get(`${username}:${p}`));
  }
}

describe('cut-upload records shared with other nodes', { timeout: 60_000 }, () => {
  const shared = new CountingCuts();
  const server = useFerry({ sharedCutUploads: shared });

  test('a replacing STOR writes its record and forgets it, reading none', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'r.txt'), 'old');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      const [, stored] = await ftp.store('r.txt', Buffer.from('new'));
      assert.equal(stored.code, 226, textOf(stored));
    });
    assert.deepEqual(shared.calls, { put: 1, delete: 1, get: 0 });
    assert.equal(shared.records.size, 0);
  });

  test('a record another node’s cut left outlives this node’s STOR that got no data connection', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'g.txt'), 'old');
    // Another node serving the same files, sharing the records: the upload is cut there.
    const other = await startServer({
      sharedCutUploads: shared,
      storageFor: (p) => new LocalStorage({ root: ts.root, readOnly: p.readOnly }),
    });
    try {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(other, 'implicit'));
        await ftp.cmd('TYPE I', 200);
        const conn = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd('STOR g.txt', 150);
        await ftp.uploadTruncated(conn, Buffer.from('new, cut'));
        await ftp.expect(426);
      });
    } finally {
      await other.close();
    }
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      await ftp.cmd('STOR g.txt', 425); // no PASV/PORT: this node's record of it is dropped, not the other's
      await ftp.epsv();
      const appe = await ftp.cmd('APPE g.txt', 451);
      assert.match(textOf(appe), /^Resume refused /);
    });
  });
});
