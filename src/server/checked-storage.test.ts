import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '../storage/memory.js';
import { ctx, listed } from '../storage/test-support.js';
import type { FileStat, StorageContext, VPath } from '../storage/types.js';
import { checkedStorage } from './checked-storage.js';

/** Lists `/odd` as the batches given, by name (an embedder's storage, names unchecked). */
class Batches extends MemoryStorage {
  readonly made: (readonly FileStat[])[] = [];

  constructor(private readonly batches: readonly (readonly string[])[]) {
    super();
  }

  override async *list(): AsyncIterable<readonly FileStat[]> {
    const entry = (name: string): FileStat => ({
      name,
      path: '/odd/x' as VPath,
      type: 'file',
      size: 1,
      modified: new Date(0),
      mode: 0o644,
    });
    for (const names of this.batches) {
      const batch = names.map(entry);
      this.made.push(batch);
      yield batch;
    }
  }
}

const noWarn = (): void => {};

describe('checkedStorage list', () => {
  it('leaves out names no client can address, whatever the storage', async () => {
    const s = checkedStorage(
      new Batches([['sl/ash', '..', '.', '', 'nul\0x', 'back\\slash', 'good']]),
      noWarn,
    );
    assert.deepEqual(
      (await listed(s, '/odd')).map((st) => st.name),
      ['good'],
    );
  });

  it('gives a batch all addressable as the storage made it (no copy)', async () => {
    const storage = new Batches([['a', 'b']]);
    const got: (readonly FileStat[])[] = [];
    for await (const batch of checkedStorage(storage, noWarn).list('/odd' as VPath, ctx())) got.push(batch);
    assert.equal(got.length, 1);
    assert.equal(got[0], storage.made[0]);
  });

  it('leaves a batch of only unaddressable names out, as a step (the command time limit sees it move)', async () => {
    const s = checkedStorage(new Batches([['a/b', '..'], ['ok']]), noWarn);
    let steps = 0;
    const c: StorageContext = { ...ctx(), progress: () => void steps++ };
    assert.deepEqual(
      (await listed(s, '/odd', c)).map((st) => st.name),
      ['ok'],
    );
    assert.equal(steps, 1);
  });
});
