import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PACE_WINDOW_S, TransferPace } from './transfer-pace.js';

const T0 = 1_700_000_000_000; // a whole second

test('a transfer that moves shows its rate over the last seconds and no time without progress', () => {
  const pace = new TransferPace(T0);
  for (let ms = 0; ms < 20_000; ms += 100) pace.add(10_000, T0 + ms); // 100 KB/s for 20 s
  assert.equal(pace.bytesPerSecond(T0 + 20_000), 100_000);
  assert.equal(pace.sinceProgressSeconds(T0 + 20_000), 0);
});

test('a transfer that stopped (its client no longer reads): the rate falls to 0 within the window, the time since progress grows', () => {
  const pace = new TransferPace(T0);
  for (let ms = 0; ms < 5_000; ms += 100) pace.add(50_000, T0 + ms); // 500 KB/s for 5 s, then nothing
  assert.equal(pace.bytesPerSecond(T0 + 5_000), 500_000);
  // Seconds 3 and 4 still in the window (3 to 12): 1 MB over 9 s.
  assert.equal(pace.bytesPerSecond(T0 + 12_000), Math.round(1_000_000 / 9));
  assert.equal(pace.bytesPerSecond(T0 + 5_000 + PACE_WINDOW_S * 1000), 0);
  const later = T0 + 4_900 + 11 * 60 * 1000;
  assert.equal(pace.bytesPerSecond(later), 0);
  assert.equal(pace.sinceProgressSeconds(later), 11 * 60);
});

test('the first second is not taken as a burst, and a transfer that has moved nothing counts from its start', () => {
  const pace = new TransferPace(T0 + 500);
  pace.add(1_000, T0 + 600);
  assert.equal(pace.bytesPerSecond(T0 + 700), 1_000, 'over 1 s at least, not 1000 B in 0.2 s');
  const idle = new TransferPace(T0);
  assert.equal(idle.bytesPerSecond(T0 + 30_000), 0);
  assert.equal(idle.sinceProgressSeconds(T0 + 30_000), 30);
});
