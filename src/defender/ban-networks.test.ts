import assert from 'node:assert/strict';
import { test } from 'node:test';
import { banKeyOf, bansNamed, coversLoopback, type AddressCounting } from './ban-networks.js';
import { Defender, DEFAULT_DEFENDER } from './defender.js';

test('banKeyOf: an address as the defender counts it, a network by its first address', () => {
  const counting = (ipv6PrefixLength: number, nat64Prefixes: string[] = []) => ({
    ipv6PrefixLength,
    nat64Prefixes,
  });
  assert.equal(banKeyOf('192.0.2.7', counting(64)), '192.0.2.7');
  assert.equal(banKeyOf('::ffff:192.0.2.7', counting(64)), '192.0.2.7');
  assert.equal(banKeyOf('192.0.2.77/24', counting(64)), '192.0.2.0/24');
  assert.equal(banKeyOf('192.0.2.7/32', counting(64)), '192.0.2.7');
  assert.equal(banKeyOf('0.0.0.0/0', counting(64)), '0.0.0.0/0');
  assert.equal(banKeyOf('2001:db8:1:2::5', counting(64)), '2001:db8:1:2::/64');
  assert.equal(banKeyOf('2001:DB8:1:2::5/48', counting(64)), '2001:db8:1::/48');
  assert.equal(banKeyOf('2001:db8::5/128', counting(64)), '2001:db8::5');
  for (const bad of [
    '',
    'host.example',
    '192.0.2.7/33',
    '192.0.2.7/x',
    '1.2.3.4/8/1',
    'fe80::1%eth0',
    '192.0.2.0/',
  ])
    assert.equal(banKeyOf(bad, counting(64)), undefined, bad);
  // A NAT64/SIIT address is the IPv4 client it embeds (the well-known prefix, a site's own).
  assert.equal(banKeyOf('64:ff9b::c633:6407', counting(64)), '198.51.100.7');
  assert.equal(banKeyOf('2001:db8:46::198.51.100.7', counting(64, ['2001:db8:46::/96'])), '198.51.100.7');
  assert.equal(banKeyOf('2001:db8:46::198.51.100.7', counting(64)), '2001:db8:46::/64');
});

const countingBy = (ipv6PrefixLength: number): AddressCounting => ({ ipv6PrefixLength, nat64Prefixes: [] });

test('bansNamed: the ban as listed in any spelling, or an address as the defender counts it', () => {
  const keys = ['2001:db8:1::/64', '192.0.2.7', '198.51.100.0/24', ''];
  const own = (input: string, prefix = 64): string | undefined =>
    bansNamed(keys, input, countingBy(prefix)).own;
  assert.equal(own('2001:db8:1::/64'), '2001:db8:1::/64');
  assert.equal(own('2001:DB8:1:0::/64'), '2001:db8:1::/64');
  assert.equal(own('2001:db8:1::77'), '2001:db8:1::/64', 'an address of the /64 the defender counts by');
  assert.equal(own('2001:db8:1::77/64'), '2001:db8:1::/64');
  assert.equal(own('2001:db8:2::77'), undefined);
  assert.equal(own('2001:db8:1::/48'), undefined);
  assert.equal(own('192.0.2.7'), '192.0.2.7');
  assert.equal(own('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(own(' 192.0.2.7 '), '192.0.2.7');
  assert.equal(own('192.0.2.8'), undefined);
  assert.equal(own('198.51.100.9/24'), '198.51.100.0/24', 'an IPv4 network in any spelling too');
  assert.equal(own(''), '', 'whatever is listed can be named');
});

test('bansNamed: an address inside a network banned is covered by it, not named by it', () => {
  const keys = ['203.0.113.0/24', '203.0.0.0/16', '203.0.113.7', '2001:db8::/48', '2001:db8:0:1::/64'];
  assert.deepEqual(bansNamed(keys, '203.0.113.7', countingBy(64)), {
    own: '203.0.113.7',
    covering: ['203.0.113.0/24', '203.0.0.0/16'],
  });
  assert.deepEqual(bansNamed(keys, '203.0.113.8', countingBy(64)), {
    own: undefined,
    covering: ['203.0.113.0/24', '203.0.0.0/16'],
  });
  assert.deepEqual(bansNamed(keys, '::ffff:203.0.113.8', countingBy(64)).covering, [
    '203.0.113.0/24',
    '203.0.0.0/16',
  ]);
  assert.deepEqual(bansNamed(keys, '203.0.113.128/25', countingBy(64)).covering, [
    '203.0.113.0/24',
    '203.0.0.0/16',
  ]);
  assert.deepEqual(bansNamed(keys, '203.0.113.0/24', countingBy(64)), {
    own: '203.0.113.0/24',
    covering: ['203.0.0.0/16'],
  });
  assert.deepEqual(
    bansNamed(keys, '203.0.0.0/8', countingBy(64)),
    { own: undefined, covering: [] },
    'wider than any',
  );
  assert.deepEqual(bansNamed(keys, '198.51.100.1', countingBy(64)), { own: undefined, covering: [] });
  // A manual /48 covers the /64 the defender counts its address by.
  assert.deepEqual(bansNamed(keys, '2001:db8:0:1::5', countingBy(64)), {
    own: '2001:db8:0:1::/64',
    covering: ['2001:db8::/48'],
  });
  assert.deepEqual(bansNamed(keys, '2001:db8:0:2::5', countingBy(64)), {
    own: undefined,
    covering: ['2001:db8::/48'],
  });
  // The server counting by /48 (it says so): the /48 is that address's own ban.
  assert.deepEqual(bansNamed(keys, '2001:db8:0:2::5', countingBy(48)), {
    own: '2001:db8::/48',
    covering: [],
  });
  assert.deepEqual(bansNamed(keys, 'not-an-address', countingBy(64)), { own: undefined, covering: [] });
});

test('coversLoopback: any overlap with 127.0.0.0/8 or ::1', () => {
  for (const k of ['127.0.0.2', '127.0.0.0/8', '126.0.0.0/7', '0.0.0.0/0', '::/64', '::/0', '::1'])
    assert.equal(coversLoopback(k), true, k);
  for (const k of ['192.0.2.0/24', '128.0.0.0/1', '2001:db8::/32', '126.0.0.0/8'])
    assert.equal(coversLoopback(k), false, k);
});

test('a network banned by add() refuses every address in it, by IPv4 and IPv6, until lifted', () => {
  let now = 1_000_000;
  const d = new Defender(
    DEFAULT_DEFENDER,
    () => {},
    () => now,
  );
  const v4 = d.add('192.0.2.0/24', 60_000, 'scanner');
  assert.deepEqual(v4, {
    address: '192.0.2.0/24',
    since: now,
    until: now + 60_000,
    bans: 1,
    reason: 'scanner',
  });
  d.add('2001:db8::/32', 60_000);
  assert.equal(d.banned('192.0.2.200'), true);
  assert.equal(d.banned('::ffff:192.0.2.1'), true);
  assert.equal(d.banned('192.0.3.1'), false);
  assert.equal(d.banned('2001:db8:ffff::1'), true);
  assert.equal(d.banned('2001:db9::1'), false);
  assert.equal(d.unban('192.0.2.0/24'), true);
  assert.equal(d.banned('192.0.2.200'), false);
  now += 60_000;
  assert.equal(d.banned('2001:db8:ffff::1'), false, 'ended');
  // Kept across a restart (the bans file): a new defender restores the network.
  now = 2_000_000;
  d.add('198.51.100.0/25', 60_000);
  const again = new Defender(
    DEFAULT_DEFENDER,
    () => {},
    () => now,
  );
  again.restore(d.snapshot());
  assert.equal(again.banned('198.51.100.9'), true);
  assert.equal(again.banned('198.51.100.200'), false);
});
