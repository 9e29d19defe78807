import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionMatches } from './session-match.js';

const s = { id: 'a1', user: 'alice', address: '::ffff:192.0.2.7' };
const none = { ids: [] };

test('a session matches by id, by user or by address; nothing when the match names nothing', () => {
  assert.equal(sessionMatches(s, none), false);
  assert.equal(sessionMatches(s, { ids: ['b2', 'a1'] }), true);
  assert.equal(sessionMatches(s, { ids: ['b2'] }), false);
  assert.equal(sessionMatches(s, { ids: [], user: 'alice' }), true);
  assert.equal(sessionMatches(s, { ids: [], user: 'Alice' }), false);
  assert.equal(sessionMatches({ ...s, user: null }, { ids: [], user: 'alice' }), false);
  assert.equal(sessionMatches(s, { ids: [], address: '192.0.2.7' }), true);
  assert.equal(sessionMatches(s, { ids: [], address: '192.0.2.70' }), false);
  assert.equal(sessionMatches({ ...s, address: '2001:DB8::1' }, { ids: [], address: '2001:db8::1' }), true);
});
