import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tlsPolicyLine } from './serve.js';

test('the banner names CCC as one relaxation, not a clear connection and CCC', () => {
  assert.equal(
    tlsPolicyLine({ allowCcc: true }),
    'TLS is NOT required everywhere: allowed are a control connection cleared by CCC after login (allow-ccc).',
  );
});

test('without relaxations it says TLS is required', () => {
  assert.equal(tlsPolicyLine({}), 'TLS is required for login and data.');
});
