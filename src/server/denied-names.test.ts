import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '../storage/memory.js';
import { ctx, listed } from '../storage/test-support.js';
import type { StorageContext } from '../storage/types.js';
import { deniedPaths, withDeniedNames } from './denied-names.js';

describe('withDeniedNames', () => {
  it('leaves a batch of only denied names out, as a step (the command time limit sees it move)', async () => {
    const home = new MemoryStorage({ files: { '/d/a.exe': 'a', '/d/b.exe': 'b' } });
    const s = withDeniedNames(home, deniedPaths(['*.exe'], false) ?? (() => false));
    let steps = 0;
    const c: StorageContext = { ...ctx(), progress: () => void steps++ };
    assert.deepEqual(await listed(s, '/d', c), []);
    assert.equal(steps, 1);
  });
});
