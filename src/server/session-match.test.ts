import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddressPattern, sessionMatches } from './session-match.js';

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

test('--address as ferry who prints it ([v6], [v6]:port, v4:port), or a network; garbage matches nothing', () => {
  const six = { id: 'b2', user: 'bob', address: '2001:db8:1::5', port: 51234 };
  const at = (address: string, session: typeof six = six): boolean =>
    sessionMatches(session, { ids: [], address });
  assert.equal(at('[2001:db8:1::5]'), true);
  assert.equal(at('[2001:db8:1::5]:51234'), true);
  assert.equal(at('[2001:db8:1::5]:51235'), false);
  assert.equal(at('2001:db8:1::/64'), true);
  assert.equal(at('2001:db8:2::/64'), false);
  assert.equal(at('2001:db8::/32'), true);
  const four = { ...six, address: '192.0.2.7' };
  assert.equal(at('192.0.2.7:51234', four), true);
  assert.equal(at('192.0.2.0/24', four), true);
  assert.equal(at('::ffff:192.0.2.0/120', four), true);
  assert.equal(at('192.0.3.0/24', four), false);
  for (const bad of ['', 'host.example', '[host]', '192.0.2.7/33', '[2001:db8::1/64]', '2001:db8::1:99999'])
    assert.equal(parseAddressPattern(bad), undefined, bad);
});

test('--address with the IPv4 client a NAT64/SIIT address embeds matches its sessions (counted)', () => {
  const s64 = { id: 'c3', user: 'carol', address: '64:ff9b::c633:6407', port: 40000 };
  const counted = (a: string): string => (a === '64:ff9b::c633:6407' ? '198.51.100.7' : a);
  assert.equal(sessionMatches(s64, { ids: [], address: '198.51.100.7' }, counted), true);
  assert.equal(sessionMatches(s64, { ids: [], address: '198.51.100.0/24' }, counted), true);
  assert.equal(sessionMatches(s64, { ids: [], address: '[64:ff9b::c633:6407]:40000' }, counted), true);
  assert.equal(sessionMatches(s64, { ids: [], address: '198.51.100.7' }), false);
});
