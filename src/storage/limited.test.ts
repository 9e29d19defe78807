// LimitedStorage over LocalStorage: a refusal by the quota is reported as such however early it
// comes (here, on the first chunk, before the disk write has even begun).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withLimits } from './limited.js';
import { LocalStorage } from './local.js';
import { QuotaBook, type Usage } from './quota.js';
import { ctx, source, v } from './test-support.js';
import { RateBuckets } from './throttle.js';

test('an upload whose first chunk crosses the quota is refused as quota-exceeded, leaving nothing', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ferry-limited-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'old'), Buffer.alloc(600));
  const records = new Map<string, Usage>();
  const usage = new QuotaBook({
    get: async (u) => records.get(u),
    init: async (u, x) => (records.set(u, x), x),
    add: async (u, d) => {
      const r = records.get(u);
      if (r) records.set(u, { bytes: r.bytes + d.bytes, files: r.files + d.files });
    },
    forget: async (u) => void records.delete(u),
  });
  const s = withLimits(
    new LocalStorage({ root }),
    { username: 'u', quotaSize: 1000 },
    { usage, rates: new RateBuckets() },
  );
  for (let i = 0; i < 20; i++) {
    await assert.rejects(
      s.write(v(`/new${i}`), source('x'.repeat(401)), { offset: 0, append: false }, ctx()),
      { code: 'ERR_QUOTA_EXCEEDED' },
    );
  }
  assert.deepEqual(await readdir(root), ['old']);
  assert.deepEqual(records.get('u'), { bytes: 600, files: 1 });
});
