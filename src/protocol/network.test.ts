import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkList, parseNetwork } from './network.js';

test('parseNetwork: an address is its /32 or /128; a network keeps its spelling and length', () => {
  assert.deepEqual(parseNetwork('192.0.2.7'), { address: '192.0.2.7', family: 4, bits: 32 });
  assert.deepEqual(parseNetwork('10.0.0.0/8'), { address: '10.0.0.0', family: 4, bits: 8 });
  assert.deepEqual(parseNetwork('192.0.2.7/24'), { address: '192.0.2.7', family: 4, bits: 24 });
  assert.deepEqual(parseNetwork('0.0.0.0/0'), { address: '0.0.0.0', family: 4, bits: 0 });
  assert.deepEqual(parseNetwork('2001:DB8::/32'), { address: '2001:DB8::', family: 6, bits: 32 });
  assert.deepEqual(parseNetwork('::1'), { address: '::1', family: 6, bits: 128 });
  assert.deepEqual(parseNetwork('::ffff:192.0.2.0/120'), {
    address: '::ffff:192.0.2.0',
    family: 6,
    bits: 120,
  });
  assert.deepEqual(parseNetwork('10.0.0.0/08'), { address: '10.0.0.0', family: 4, bits: 8 });
});

test('parseNetwork: strict where the four parsers it replaces disagreed', () => {
  for (const bad of [
    '10.0.0.0/', // the defender's allow list and proxyProtocol.trusted read it as /0: everyone
    '10.0.0.0/0x8', // and these as /8, /8, /8, /10
    '10.0.0.0/+8',
    '10.0.0.0/ 8',
    '10.0.0.0/1e1',
    '10.0.0.0/0008',
    'fe80::1%eth0', // an account's allowFrom and bans.json took a zone (one interface's)
    'fe80::%eth0/64',
  ])
    assert.equal(parseNetwork(bad), undefined, bad);
});

test('parseNetwork: what none of them took', () => {
  for (const bad of [
    '',
    'host.example',
    '192.0.2.7/33',
    '2001:db8::/129',
    '1.2.3.4/8/1',
    ' 10.0.0.0/8',
    '10.0.0.0/8 ',
    '10.0.0.0/-1',
    '10.0.0.0/x',
    '/8',
  ])
    assert.equal(parseNetwork(bad), undefined, bad);
});

test('networkList: matches the addresses of its networks, IPv4-mapped ones as IPv4; names a bad one', () => {
  const list = networkList(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
  assert.equal(list.check('10.1.2.3', 'ipv4'), true);
  assert.equal(list.check('::ffff:10.1.2.3', 'ipv6'), true);
  assert.equal(list.check('2001:db8:ffff::1', 'ipv6'), true);
  assert.equal(list.check('192.0.2.7', 'ipv4'), true);
  assert.equal(list.check('192.0.2.8', 'ipv4'), false);
  assert.throws(() => networkList(['10.0.0.0/8', '10.0.0.0/']), /"10\.0\.0\.0\/" is not a network/);
});
