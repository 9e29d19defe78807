import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatModified, timePrecision } from './listing-time.js';

const when = new Date('2020-03-04T12:34:56.789Z');

test('a time is shown only as exactly as the server gave it', () => {
  assert.equal(formatModified(new Date('2020-03-04T00:00:00Z'), 86_400_000), '2020-03-04      ');
  assert.equal(formatModified(when, 60_000), '2020-03-04 12:34');
  assert.equal(formatModified(when, 1000), '2020-03-04 12:34');
  assert.equal(formatModified(new Date(0), Number.POSITIVE_INFINITY), '               -');
});

test("--json's modifiedPrecision names the precision", () => {
  assert.equal(timePrecision(1000), 'second');
  assert.equal(timePrecision(60_000), 'minute');
  assert.equal(timePrecision(86_400_000), 'day');
  assert.equal(timePrecision(Number.POSITIVE_INFINITY), null);
});
