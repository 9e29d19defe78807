import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuotaBook, type Usage, type UsageLedger } from './quota.js';

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
