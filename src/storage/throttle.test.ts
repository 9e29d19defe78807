import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateBuckets, TokenBucket } from './throttle.js';

test('a token bucket makes reservations wait for the time their bytes take at the rate', () => {
  let now = 1000;
  const b = new TokenBucket(1000, () => now); // 1000 bytes/s
  assert.equal(b.reserve(50), 0); // within the 50 ms burst
  assert.equal(b.reserve(1000), 1000); // due at 2050, burst 50 → wait 1000 ms
  now = 2050;
  assert.equal(b.reserve(500), 450);
  b.rate = 0;
  assert.equal(b.reserve(1e9), 0, 'rate 0 is unlimited');
});

test('RateBuckets gives one bucket per user and direction, following the latest rate', () => {
  const r = new RateBuckets();
  const up = r.bucket('u', 'upload', 10);
  assert.equal(r.bucket('u', 'upload', 20), up);
  assert.equal(up.rate, 20);
  assert.notEqual(r.bucket('u', 'download', 20), up);
  assert.notEqual(r.bucket('v', 'upload', 20), up);
  assert.equal(r.bucket('u', 'upload', undefined).rate, 0);
});
