import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransferRate } from './transfer-rate.js';

/**
 * A steady 1 MiB/s transfer of 10 MiB reported as a real one is: 32 KiB chunks, bursts of several
 * in the same millisecond, then a pause. The ETA must follow the bytes left, never jump to 0.
 */
test('the ETA of a steady transfer reported in same-millisecond bursts is steady', () => {
  const rate = new TransferRate();
  const total = 10 * 1024 * 1024;
  const chunk = 32 * 1024;
  let bytes = 0;
  let t = 1_000_000;
  const seen: { done: number; eta: number }[] = [];
  while (bytes < total) {
    // Four chunks at once (one socket read), every 125 ms: 1 MiB/s.
    for (let i = 0; i < 4 && bytes < total; i++) {
      bytes += chunk;
      rate.add(t, bytes);
    }
    const eta = rate.etaSeconds(total);
    if (!Number.isNaN(eta)) seen.push({ done: bytes / total, eta });
    t += 125;
  }
  assert.ok(seen.length > 50);
  for (const { done, eta } of seen) {
    const expected = ((1 - done) * total) / (1024 * 1024);
    assert.ok(
      Math.abs(eta - expected) < 0.6,
      `at ${Math.round(done * 100)} %: ETA ${eta}, expected ${expected}`,
    );
  }
});

test('no ETA before the rate is known, and a restart starts the rate over', () => {
  const rate = new TransferRate();
  rate.add(0, 1000);
  rate.add(0, 2000);
  assert.ok(Number.isNaN(rate.etaSeconds(10_000)));
  rate.add(1000, 3000);
  assert.equal(rate.etaSeconds(10_000), 7); // 2000 B in 1 s, 7000 B left
  rate.add(1100, 100); // retried from the start
  assert.ok(Number.isNaN(rate.etaSeconds(10_000)));
  assert.ok(Number.isNaN(new TransferRate().etaSeconds(undefined)));
});

test("the time before the first byte does not count: the rate is the data's from the start", () => {
  const rate = new TransferRate();
  const kib = 1024;
  rate.add(0, 0); // the bar appears: EPSV, RETR and the data handshake still to come
  let t = 600; // the first 16 KiB after a 0.6 s round trip's handshakes
  let bytes = 16 * kib;
  rate.add(t, bytes);
  const total = 3.81 * 1024 * kib;
  // 16 KiB every 131 ms: 122 KiB/s.
  for (let i = 0; i < 4; i++) rate.add((t += 131), (bytes += 16 * kib));
  const perSecond = rate.rate() ?? 0;
  assert.ok(Math.abs(perSecond / kib - 122) < 1, `${perSecond / kib} KiB/s`);
  const eta = rate.etaSeconds(total);
  assert.ok(Math.abs(eta - (total - bytes) / (122 * kib)) < 1, `ETA ${eta} s`);
});
