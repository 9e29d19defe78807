import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBanDuration } from './ban-duration.js';

test('--for: seconds, or a number with s, m, h, d, w; anything else refused naming the flag', () => {
  assert.equal(parseBanDuration('90'), 90_000);
  assert.equal(parseBanDuration('30m'), 1_800_000);
  assert.equal(parseBanDuration('12h'), 43_200_000);
  assert.equal(parseBanDuration('7d'), 604_800_000);
  assert.equal(parseBanDuration('2w'), 1_209_600_000);
  for (const bad of ['', '0', '5x', '1.5h', '-1h', '3651d'])
    assert.throws(() => parseBanDuration(bad), /^FerryError: --for: expected a duration/, bad);
});
