/**
 * The cut-upload records shared between nodes (the `sharedCutUploads` option; PostgreSQL in
 * production, a counting map here): a replacing STOR writes its record in one call, which also says
 * whether another node's stood (no separate read: a database round trip per upload), and a record
 * another node's STOR of the file rewrote, then cut, still guards the file after this node's STOR
 * got no data connection.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
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

  // This node's STOR and another node's of the same file each write their record (the other's
  // rewrites this one's: the same version). This one then gets no data connection: it must drop
  // only its own record, for the other's upload, cut, leaves that old version, which a resume here
  // must not continue. (A record that stood before this node's STOR is kept anyway: not this case.)
  test('a record another node’s STOR rewrote outlives this node’s STOR that got no data connection', async () => {
    const ts = server();
    const file = path.join(ts.root, 'g.txt');
    await writeFile(file, 'old');
    // Another node serving the same files, sharing the records.
    const other = await startServer({
      sharedCutUploads: shared,
      storageFor: (p) => new LocalStorage({ root: ts.root, readOnly: p.readOnly }),
    });
    try {
      await withClients(async (track) => {
        const here = track(await loggedIn(ts, 'implicit'));
        const there = track(await loggedIn(other, 'implicit'));
        await here.cmd('TYPE I', 200);
        await there.cmd('TYPE I', 200);
        // Data connections made, their TLS not begun: each STOR wrote its record before its 150, and waits.
        const unserved = await here.openData(await here.epsv(), { tls: false });
        await here.cmd('STOR g.txt', 150);
        const plain = await there.openData(await there.epsv(), { tls: false });
        await there.cmd('STOR g.txt', 150);
        unserved.raw.destroy(); // dropped before its TLS: nothing sent, nothing stored here
        const failed = await here.expect();
        assert.ok([425, 522].includes(failed.code), textOf(failed));
        await there.uploadTruncated(await there.secureData(plain), Buffer.from('new, cut'));
        await there.expect(426);
        await here.epsv();
        const appe = await here.cmd('APPE g.txt', 451);
        assert.match(textOf(appe), /^Resume refused /);
        assert.equal(await readFile(file, 'utf8'), 'old');
      });
    } finally {
      await other.close();
    }
  });
});
