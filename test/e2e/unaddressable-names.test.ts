/**
 * Names an embedder's storage lists that no client could address (a slash, `.`, `..`, the empty
 * name, control characters, a backslash) are left out of every listing by the server, as local
 * storage leaves them out of its own: a client shown `sl/ash` or `..` would act on another entry.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import { loggedIn, MODES, textOf, useFerry, withClients } from './harness.js';

const UNADDRESSABLE = ['sl/ash', '..', '.', '', 'nul\0x', 'tab\tx', 'back\\slash', 'ev\r\n211 End'];

/** Lists `/odd` as one good name among names no client can use. */
class OddNames extends MemoryStorage {
  override async *list(dir: VPath, c: StorageContext): AsyncIterable<readonly FileStat[]> {
    if (dir !== '/odd') return yield* super.list(dir, c);
    const entry = (name: string): FileStat => ({
      name,
      path: '/odd/good.txt' as VPath,
      type: 'file',
      size: 1,
      modified: new Date(0),
      mode: 0o644,
    });
    yield [...UNADDRESSABLE, 'good.txt'].map(entry);
  }
}

for (const mode of MODES) {
  describe(`names a client cannot address, from an embedder's storage (${mode})`, { timeout: 60_000 }, () => {
    const storage = new OddNames({ files: { '/odd/good.txt': 'x' } });
    const server = useFerry({ storageFor: () => storage });

    test('LIST, NLST, MLSD and STAT show only the addressable name', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const lines = (text: string): string[] => text.split('\r\n').filter((l) => l !== '');
        const nlst = lines(await ftp.listing('NLST', '/odd'));
        assert.deepEqual(nlst, ['/odd/good.txt']);
        const list = lines(await ftp.listing('LIST', '/odd'));
        assert.equal(list.length, 1, JSON.stringify(list));
        assert.match(list[0] ?? '', / good\.txt$/);
        const mlsd = lines(await ftp.listing('MLSD', '/odd'));
        assert.equal(mlsd.length, 1, JSON.stringify(mlsd));
        assert.match(mlsd[0] ?? '', /; good\.txt$/);
        const stat = textOf(await ftp.cmd('STAT /odd', 212));
        const entries = stat.split(/\r?\n/).filter((l) => /^\S*[-d]r/.test(l.trim()));
        assert.equal(entries.length, 1, stat);
        assert.match(entries[0] ?? '', / good\.txt$/);
      });
    });
  });
}
