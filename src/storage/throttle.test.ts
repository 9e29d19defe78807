import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { RateBuckets, Throttle, TokenBucket } from './throttle.js';

test('a token bucket makes reservations wait for the time their bytes take at the rate', () => {
  let now = 1000;
  const b = new TokenBucket(1000, () => now); // 1000 bytes/s
  assert.equal(b.reserve(50), 0); // nothing before it: at once (due at 1050)
  assert.equal(b.reserve(1000), 0); // what is before it is within the 50 ms burst (due at 2050)
  assert.equal(b.reserve(100), 1000); // after 2050, burst 50 → wait 1000 ms (due at 2150)
  now = 2100;
  assert.equal(b.reserve(500), 0); // 2150 is within the burst
  b.rate = 0;
  assert.equal(b.reserve(1e9), 0, 'rate 0 is unlimited');
});

test('bytes already taken (a socket read) make the next read wait until they are paid for', () => {
  let now = 1000;
  const b = new TokenBucket(1000, () => now); // 1000 bytes/s
  assert.equal(b.take(40), 0); // due at 1040: within the 50 ms burst
  assert.equal(b.take(1000), 990); // due at 2040, burst 50 → read on at 1990
  now = 1990;
  assert.equal(b.reserve(10), 0, 'one bucket: a reservation after it waits as well (due at 2050)');
  assert.equal(b.take(100), 110); // due at 2150, burst 50 → read on at 2100
  b.rate = 0;
  assert.equal(b.take(1e9), 0, 'rate 0 is unlimited');
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

test('a slow rate sends its first bytes at once, then a piece every so often (not a 16 KiB slice at a time)', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    const t = new Throttle(new TokenBucket(1000)); // 1 KB/s
    const got: number[] = [];
    t.on('data', (d: Buffer) => got.push(d.length));
    t.write(Buffer.alloc(40_000));
    assert.deepEqual(got, [1024], 'the first piece leaves at once');
    mock.timers.tick(1000);
    assert.deepEqual(got, [1024, 1024], 'the next about a second later');
    t.destroy();
  } finally {
    mock.timers.reset();
  }
});
