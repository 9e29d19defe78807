// LimitedStorage over LocalStorage: a refusal by the quota is reported as such however early it
// comes (here, on the first chunk, before the disk write has even begun); a quota user's upload
// still hands its chunks back to a recycling source (GC: see stream-chain.ts), a throttled one not.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { withLimits, type UserLimits } from './limited.js';
import { prepareWrite } from './prepared-write.js';
import { LocalStorage } from './local.js';
import { QuotaBook, type Usage } from './quota.js';
import type { RecyclingReadable } from './recycling.js';
import { ctx, source, v } from './test-support.js';
import { RateBuckets } from './throttle.js';

/** LimitedStorage for user 'u' over a temp dir, its usage records kept in `records`. */
async function limited(t: TestContext, limits: Omit<UserLimits, 'username'>) {
  const root = await mkdtemp(join(tmpdir(), 'ferry-limited-'));
  t.after(() => rm(root, { recursive: true, force: true }));
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
  const storage = withLimits(
    new LocalStorage({ root }),
    { username: 'u', ...limits },
    { usage, rates: new RateBuckets() },
  );
  return { root, records, storage };
}

/** A source of `n` distinct 64 KiB chunks that records what is handed back. */
function recyclingSource(n: number): { src: RecyclingReadable; chunks: Buffer[]; back: Buffer[] } {
  const chunks = Array.from({ length: n }, (_, i) => Buffer.alloc(64 * 1024, i + 1));
  const back: Buffer[] = [];
  const src = Object.assign(Readable.from(chunks), { recycle: (c: Buffer) => void back.push(c) });
  return { src, chunks, back };
}

test('an upload whose first chunk crosses the quota is refused as quota-exceeded, leaving nothing', async (t) => {
  const { root, records, storage } = await limited(t, { quotaSize: 1000 });
  await writeFile(join(root, 'old'), Buffer.alloc(600));
  for (let i = 0; i < 20; i++) {
    await assert.rejects(
      storage.write(v(`/new${i}`), source('x'.repeat(401)), { offset: 0, append: false }, ctx()),
      { code: 'ERR_QUOTA_EXCEEDED' },
    );
  }
  assert.deepEqual(await readdir(root), ['old']);
  assert.deepEqual(records.get('u'), { bytes: 600, files: 1 });
});

test('a quota user restarting beyond the end of a file is told so (554), not that the gap is over the quota', async (t) => {
  const { root, records, storage } = await limited(t, { quotaSize: 1000 });
  await writeFile(join(root, 'old'), Buffer.alloc(600));
  const beyond = { offset: 1_000_000, append: false };
  await assert.rejects(prepareWrite(storage, v('/old'), beyond, ctx()), { code: 'ERR_BEYOND_END' });
  await assert.rejects(storage.write(v('/old'), source('x'), beyond, ctx()), { code: 'ERR_BEYOND_END' });
  assert.equal((await readFile(join(root, 'old'))).length, 600);
  assert.deepEqual(records.get('u'), { bytes: 600, files: 1 });
});

test("a quota user's upload hands each chunk back to a recycling source once written", async (t) => {
  const { root, storage } = await limited(t, { quotaSize: 1 << 30 });
  const { src, chunks, back } = recyclingSource(5);
  await storage.write(v('/f'), src, { offset: 0, append: false }, ctx());
  assert.equal(back.length, chunks.length);
  assert.ok(
    back.every((b, i) => b === chunks[i]),
    'the same Buffers, each once, in order',
  );
  assert.deepEqual(await readFile(join(root, 'f')), Buffer.concat(chunks));
});

test('behind a throttle (which slices chunks) nothing is handed back', async (t) => {
  const { root, storage } = await limited(t, { quotaSize: 1 << 30, uploadRate: 1e9 });
  const { src, chunks, back } = recyclingSource(3);
  await storage.write(v('/f'), src, { offset: 0, append: false }, ctx());
  assert.deepEqual(back, []);
  assert.deepEqual(await readFile(join(root, 'f')), Buffer.concat(chunks));
});

test('a small file downloads through the download throttle: handed over whole only without one', async (t) => {
  // RETR writes `whole` at once, skipping the stream: behind a rate it must not get it.
  for (const [limits, whole] of [
    [{ downloadRate: 1e9 }, undefined],
    [{ quotaSize: 1 << 30 }, 'hello'],
  ] as const) {
    const { root, storage } = await limited(t, limits);
    await writeFile(join(root, 'small.txt'), 'hello');
    const src = await storage.openRead(v('/small.txt'), { offset: 0 }, ctx());
    assert.equal(src.whole?.toString(), whole);
    const got: Buffer[] = [];
    for await (const c of src) got.push(c as Buffer);
    assert.equal(Buffer.concat(got).toString(), 'hello');
  }
});
