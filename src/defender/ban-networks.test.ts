import assert from 'node:assert/strict';
import { test } from 'node:test';
import { banKeyOf, coversLoopback } from './ban-networks.js';
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
