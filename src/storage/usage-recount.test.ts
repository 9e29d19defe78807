import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Usage } from './quota.js';
import { recountRecorded, recountUsage, type RecountLedger } from './usage-recount.js';

/** One user's record in memory, changed as a server's upload elsewhere would. */
function ledger(start: Usage | undefined): RecountLedger & { record: Usage | undefined } {
  const l = {
    record: start,
    get: async () => l.record && { ...l.record },
    add: async (_name: string, d: Usage) => {
      if (l.record)
        l.record = {
          bytes: Math.max(0, l.record.bytes + d.bytes),
          files: Math.max(0, l.record.files + d.files),
        };
    },
    replace: async (_name: string, from: Usage | undefined | 'any', to: Usage) => {
      const same = from === l.record || JSON.stringify(from) === JSON.stringify(l.record);
      if (from !== 'any' && !same) return false;
      l.record = { ...to };
      return true;
    },
  };
  return l;
}

test('a recount stores its scan; one during which the record changed scans again', async () => {
  const l = ledger({ bytes: 5, files: 1 });
  const scans = [
    { bytes: 10, files: 1 },
    { bytes: 20, files: 2 },
  ];
  let n = 0;
  const r = await recountUsage(l, 'q', async () => {
    if (n === 0) l.record = { bytes: 15, files: 2 }; // an upload recorded meanwhile
    return scans[n++] as Usage;
  });
  assert.deepEqual(r, { before: { bytes: 5, files: 1 }, after: { bytes: 20, files: 2 }, unsettled: false });
  assert.deepEqual(l.record, { bytes: 20, files: 2 });
});

test('a record changing during every scan keeps the changes made during the last one, said unsettled', async () => {
  // The record lost 10 bytes in a crash (the disk holds 15); an upload of 1 byte is recorded while
  // each scan runs, in a directory the scan has already walked (it misses it).
  const l = ledger({ bytes: 5, files: 1 });
  let disk = 15;
  let n = 0;
  const r = await recountUsage(l, 'q', async () => {
    n++;
    const seen = disk;
    disk++;
    l.record = { bytes: (l.record?.bytes ?? 0) + 1, files: 1 };
    return { bytes: seen, files: 1 };
  });
  assert.equal(n, 3);
  assert.equal(r.unsettled, true);
  assert.deepEqual(l.record, { bytes: disk, files: 1 });
  assert.deepEqual(r.after, { bytes: disk, files: 1 });
});

test('recountRecorded leaves a user without a record (or one dropped meanwhile) uncounted', async () => {
  const none = ledger(undefined);
  assert.equal(await recountRecorded(none, 'q', async () => ({ bytes: 1, files: 1 })), undefined);
  assert.equal(none.record, undefined);
  const dropped = ledger({ bytes: 5, files: 1 });
  const r = await recountRecorded(dropped, 'q', async () => {
    dropped.record = undefined; // ferry users set changed the home meanwhile
    return { bytes: 1, files: 1 };
  });
  assert.equal(r, undefined);
  assert.equal(dropped.record, undefined);
});
