import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transferLine } from './client-progress.js';

/**
 * Over a long link the first bytes come 0.6 s after the bar appears (EPSV, RETR, the data
 * handshake): the live line shows the rate the data moves at, not the bytes over that time too.
 */
test('a live line shows the rate now; the last line the average over the whole time', () => {
  const kib = 1024;
  const live = transferLine({
    label: 'm4.bin',
    bytes: 80 * kib,
    total: 4000 * kib,
    elapsedMs: 1200,
    etaSeconds: 32,
    bytesPerSecond: 122 * kib,
    finished: false,
  });
  assert.match(live, /\| 122\.0 KiB\/s \| ETA 32s$/, live);
  const unknown = transferLine({
    label: 'm4.bin',
    bytes: 0,
    total: 4000 * kib,
    elapsedMs: 600,
    finished: false,
  });
  assert.match(unknown, /\| \? B\/s \| ETA \?$/, unknown);
  const last = transferLine({
    label: 'm4.bin',
    bytes: 4000 * kib,
    total: 4000 * kib,
    elapsedMs: 40_000,
    finished: true,
  });
  assert.match(last, /\| 100\.0 KiB\/s \| 40s$/, last);
});
