import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage } from './memory.js';
import { QuotaBook, scanUsage, type Usage, type UsageLedger } from './quota.js';
import { ctx, v } from './test-support.js';

const ledger = (): UsageLedger => ({
  get: async () => undefined,
  init: async (_u: string, usage: Usage) => usage,
  add: async () => {},
  forget: async () => {},
});

test('uploads in flight of one user count each other; the recorded usage is read once for them', async () => {
  const book = new QuotaBook(ledger());
  let reads = 0;
  const read = async (): Promise<Usage> => (reads++, { bytes: 100, files: 1 });
  const a = await book.start('u', read);
  const b = await book.start('u', read);
  assert.equal(reads, 1);
  a.grow({ bytes: 10, files: 1 });
  b.grow({ bytes: 20, files: 0 });
  assert.deepEqual(b.total(), { bytes: 130, files: 2 });
  a.end({ bytes: 10, files: 1 }); // completed: now part of the usage
  assert.deepEqual(b.total(), { bytes: 130, files: 2 });
  book.adjust('u', { bytes: -50, files: -1 }); // a DELE meanwhile
  assert.deepEqual(b.total(), { bytes: 80, files: 1 });
  b.end(); // failed: its bytes are gone
  b.end();
  const c = await book.start('u', read);
  assert.equal(reads, 2, 'with nothing in flight, the record is read again');
  assert.deepEqual(c.total(), { bytes: 100, files: 1 });
  c.end();
});

test('a failed read ends the flight and lets the next upload read again', async () => {
  const book = new QuotaBook(ledger());
  await assert.rejects(
    book.start('u', () => Promise.reject(new Error('scan failed'))),
    /scan failed/,
  );
  const f = await book.start('u', async () => ({ bytes: 1, files: 1 }));
  assert.deepEqual(f.total(), { bytes: 1, files: 1 });
});

test('a scan reports a step per batch and per directory (an empty one too)', async () => {
  const s = new MemoryStorage({ files: { '/a/x': 'x', '/b/y': 'yy' } });
  await s.mkdir(v('/e'), ctx());
  let steps = 0;
  assert.deepEqual(await scanUsage(s, { ...ctx(), progress: () => void steps++ }), { bytes: 3, files: 2 });
  // Four directories (/, a, b, e), three with a batch.
  assert.equal(steps, 7);
});

test("uploads waiting for the first one's read of the usage hear of its steps until it is done", async () => {
  const book = new QuotaBook(ledger());
  let step = (): void => {};
  let done = (_u: Usage): void => {};
  const steps = { a: 0, b: 0 };
  const a = book.start(
    'u',
    (s) => ((step = s), new Promise<Usage>((resolve) => (done = resolve))),
    () => steps.a++,
  );
  const b = book.start(
    'u',
    () => Promise.reject(new Error('read once only')),
    () => steps.b++,
  );
  step();
  step();
  assert.deepEqual(steps, { a: 2, b: 2 });
  done({ bytes: 1, files: 1 });
  const [fa, fb] = await Promise.all([a, b]);
  step(); // a late step of a finished read: no one waits for it
  assert.deepEqual(steps, { a: 2, b: 2 });
  fa.end();
  fb.end();
});
