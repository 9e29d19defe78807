/**
 * A listing is bounded in entries as well as bytes (maxListingEntries): 17-byte MLSD lines parse to
 * ~460 bytes of heap each, so a listing within maxListingBytes could exhaust the heap. A mirror's
 * walk of the remote tree, which lists in parallel with only a depth limit, is bounded in all.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { FerryError } from '../../src/errors.js';
import { useFerryFixture } from './ferry-fixture.js';
import { optionsOf } from './helpers.js';

const isLimit =
  (what: RegExp) =>
  (err: unknown): boolean =>
    err instanceof FerryError && err.code === 'ERR_LIMIT' && what.test(err.message);

describe('maxListingEntries', () => {
  const f = useFerryFixture('ferry-entries-');

  it('a listing of more entries fails with ERR_LIMIT; one of as many is listed', async () => {
    const dir = path.join(f.ts.root, 'many');
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 6; i++) await writeFile(path.join(dir, `f${i}.txt`), 'x');
    const client = await FerryClient.connect({ ...(await optionsOf(f.ts)), maxListingEntries: 5 });
    try {
      await assert.rejects(client.list('many'), isLimit(/more than 5 entries \(maxListingEntries\)/));
    } finally {
      await client.close();
    }
    const enough = await FerryClient.connect({ ...(await optionsOf(f.ts)), maxListingEntries: 6 });
    try {
      assert.equal((await enough.list('many')).length, 6);
    } finally {
      await enough.close();
    }
  });

  it("a mirror's walk stops at the bound in all, each of its listings within it", async () => {
    for (let i = 0; i < 4; i++) {
      const d = path.join(f.ts.root, 'tree', `d${i}`);
      await mkdir(d, { recursive: true });
      for (let j = 0; j < 3; j++) await writeFile(path.join(d, `f${j}.txt`), 'x');
    }
    // 4 directories of 3 files: no listing has more than 4 entries, the tree 16.
    const client = await FerryClient.connect({ ...(await optionsOf(f.ts)), maxListingEntries: 10 });
    try {
      await assert.rejects(
        mirror(client, { direction: 'download', local: path.join(f.dir, 'out'), remote: 'tree' }),
        isLimit(/remote tree has more than 10 entries/),
      );
    } finally {
      await client.close();
    }
  });
});
