import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validityText } from './certificate.js';

const DAY = 86_400_000;
const now = Date.parse('2026-12-06T08:00:00Z');

describe('validityText', () => {
  it('counts whole days, rounded down, on either side of notAfter', () => {
    assert.equal(validityText(now - 30 * DAY, now + 29.9 * DAY, now), '29 days left');
    assert.equal(validityText(now - 30 * DAY, now + 1.5 * DAY, now), '1 day left');
    assert.equal(validityText(now - 30 * DAY, now + 0.5 * DAY, now), 'less than a day left');
    assert.equal(validityText(now - 30 * DAY, now - 1.01 * DAY, now), 'expired 1 day ago');
    assert.equal(validityText(now - 30 * DAY, now - 2.5 * DAY, now), 'expired 2 days ago');
    assert.equal(validityText(now - 30 * DAY, now - 60_000, now), 'expired less than a day ago');
  });

  it('a certificate not yet valid says for how long', () => {
    assert.equal(validityText(now + 3.2 * DAY, now + 30 * DAY, now), 'not yet valid, starts in 3 days');
  });
});
