// Writes coalesced: the items added while one write runs all go in the next, each caller gets its
// own result, and a failed write fails only its own callers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteBatches } from './write-batches.js';

describe('write batches', () => {
  it('items added while a write runs go together in one next write', async () => {
    const writes: number[][] = [];
    let release = (): void => {};
    let started = (): void => {};
    const first = new Promise<void>((r) => (release = r));
    const firstStarted = new Promise<void>((r) => (started = r));
    const batches = new WriteBatches<number, string>(async (items) => {
      writes.push([...items]);
      if (writes.length === 1) {
        started();
        await first; // the first write holds (a busy lock)
      }
      if (items.includes(13)) throw new Error('disk full');
      return items.map((i) => `wrote ${i}`);
    });
    const one = batches.add(0);
    await firstStarted; // later items wait for it
    const more = Array.from({ length: 10 }, (_, i) => batches.add(i + 1));
    release();
    assert.equal(await one, 'wrote 0');
    assert.deepEqual(
      await Promise.all(more),
      Array.from({ length: 10 }, (_, i) => `wrote ${i + 1}`),
    );
    assert.deepEqual(writes, [[0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], 'two writes for eleven items');

    await assert.rejects(batches.add(13), /disk full/);
    assert.equal(await batches.add(14), 'wrote 14', 'the next write goes on');
  });
});
