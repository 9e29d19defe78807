import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { StoredUsage } from './usage-file.js';
import { UsageFile } from './usage-file.js';

async function withFile(fn: (f: UsageFile, stored: () => Promise<unknown>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-usage-replace-'));
  const file = path.join(dir, 'usage.json');
  try {
    await fn(new UsageFile(file), async () => JSON.parse(await readFile(file, 'utf8')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `usage`, running `during` once when replace compares it (the moment its write begins). */
function comparedWith(usage: StoredUsage, during: () => void): StoredUsage {
  let fired = false;
  return {
    bytes: usage.bytes,
    get files() {
      if (!fired) {
        fired = true;
        during();
      }
      return usage.files;
    },
  };
}

test('an upload recorded while a recount is stored stays counted', async () => {
  await withFile(async (f, stored) => {
    await f.init('q', { bytes: 100, files: 1 });
    await f.init('other', { bytes: 1, files: 1 });
    // Another user's change is being written when q's upload settles: q's delta waits in pending.
    const from = comparedWith({ bytes: 100, files: 1 }, () => {
      void f.add('other', { bytes: 1, files: 0 });
      void f.add('q', { bytes: 500, files: 1 });
    });
    assert.equal(await f.replace('q', from, { bytes: 100, files: 1 }), true);
    await f.flush();
    assert.deepEqual(await stored(), {
      users: { q: { bytes: 600, files: 2 }, other: { bytes: 2, files: 1 } },
    });
    assert.equal(f.pending.size, 0);
  });
});

test('a recount is not stored while a change of the user is not written yet', async () => {
  await withFile(async (f, stored) => {
    await f.init('q', { bytes: 100, files: 1 });
    await f.init('other', { bytes: 1, files: 1 });
    // q's upload is pending (behind another user's write) when replace compares: it may be missing
    // from the scan, so the recount must be taken again.
    void f.add('other', { bytes: 1, files: 0 });
    void f.add('q', { bytes: 500, files: 1 });
    assert.equal(await f.replace('q', { bytes: 600, files: 2 }, { bytes: 100, files: 1 }), false);
    await f.flush();
    assert.deepEqual(await stored(), {
      users: { q: { bytes: 600, files: 2 }, other: { bytes: 2, files: 1 } },
    });
  });
});

test('a change after a set is added to it, whatever the write of the changes before it does', async () => {
  await withFile(async (f, stored) => {
    await f.init('q', { bytes: 100, files: 1 });
    void f.add('q', { bytes: 10, files: 0 }); // its write is under way when set is called
    const set = f.set('q', { bytes: 50, files: 1 }); // counts the 10 bytes
    void f.add('q', { bytes: 7, files: 0 });
    await set;
    await f.flush();
    assert.deepEqual(await stored(), { users: { q: { bytes: 57, files: 1 } } });
  });
});
