// SIZE (and MLST) look for a cut record only where the user could have replaced the file: a
// read-only or anonymous-read account's SIZE, sent before each download, costs no look-up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../auth/types.js';
import type { FileStat, VPath } from '../storage/types.js';
import { CutUploads, cutKey, type FileVersion } from './cut-uploads.js';
import { sizeWithheld } from './withheld-size.js';

/** Counts the look-ups. */
class CountedCuts extends CutUploads {
  lookups = 0;
  override isCut(key: string, current: () => Promise<FileVersion | undefined>): Promise<boolean> {
    this.lookups++;
    return super.isCut(key, current);
  }
}

const MODIFIED = new Date(1_700_000_000_000);
const ST: FileStat = {
  name: 'doc.bin',
  path: '/pub/doc.bin' as VPath,
  type: 'file',
  size: 300,
  modified: MODIFIED,
  mode: 0o644,
  id: '1:2',
};

describe('withheld size', () => {
  it('is looked up for a user who may overwrite the file, not for one who may not', async () => {
    const cuts = new CountedCuts(undefined);
    await cuts.remember(cutKey('gui', ST.path), { id: ST.id, size: ST.size, modified: MODIFIED.getTime() });
    const gui: Principal = { username: 'gui', home: '/', readOnly: false };
    assert.equal(await sizeWithheld(cuts, gui, ST.path, ST), true, 'its replacement was cut');
    assert.equal(cuts.lookups, 1);
    // The same account made read-only since, or without `overwrite` there: it cannot resume.
    for (const p of [
      { ...gui, readOnly: true },
      { ...gui, permissions: { '/pub': ['list', 'download', 'upload'] } } as const,
    ]) {
      assert.equal(await sizeWithheld(cuts, p, ST.path, ST), false);
    }
    assert.equal(cuts.lookups, 1, 'no look-up without overwrite');
  });
});
