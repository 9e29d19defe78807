import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidArgumentError } from 'commander';

import { MAX_TIMEOUT_SECONDS, timeoutSeconds } from './timeout-seconds.js';

describe('--timeout <seconds>', () => {
  it('takes positive numbers up to what a timer holds', () => {
    assert.equal(timeoutSeconds('0.5'), 0.5);
    assert.equal(timeoutSeconds(String(MAX_TIMEOUT_SECONDS)), MAX_TIMEOUT_SECONDS);
    // The longest timeout still fits a timer once in milliseconds.
    assert.ok(Math.round(MAX_TIMEOUT_SECONDS * 1000) <= 2 ** 31 - 1);
  });

  it('refuses a timeout a timer would overflow (it would fire after 1 ms), and non-positive ones', () => {
    for (const v of [String(MAX_TIMEOUT_SECONDS + 1), '2147484', '1e10', '0', '-1', 'x', 'Infinity'])
      assert.throws(() => timeoutSeconds(v), InvalidArgumentError, v);
  });
});
