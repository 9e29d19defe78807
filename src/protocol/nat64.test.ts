import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embeddedIPv4, nat64Prefixes, parseNat64Prefix } from './nat64.js';

test('embeddedIPv4: the well-known prefix 64:ff9b::/96, in any spelling; nothing else by default', () => {
  const known = nat64Prefixes();
  assert.equal(embeddedIPv4('64:ff9b::c633:6407', known), '198.51.100.7');
  assert.equal(embeddedIPv4('64:ff9b::198.51.100.7', known), '198.51.100.7');
  assert.equal(embeddedIPv4('0064:FF9B:0:0:0:0:C633:6407', known), '198.51.100.7');
  assert.equal(embeddedIPv4('64:ff9b:1::c633:6407', known), undefined); // RFC 8215's local-use /48: a site's own
  assert.equal(embeddedIPv4('2001:db8::c633:6407', known), undefined);
  assert.equal(embeddedIPv4('198.51.100.7', known), undefined);
  assert.equal(embeddedIPv4('::ffff:198.51.100.7', known), undefined); // IPv4-mapped: plain IPv4 already
  assert.equal(embeddedIPv4('not an address', known), undefined);
});

test("embeddedIPv4: a site's prefixes of every RFC 6052 length (2.4's examples), bits 64-71 skipped", () => {
  // RFC 6052 2.4: 192.0.2.33 under 2001:db8::/32, /40, /48, /56, /64 and /96.
  const examples: [string, string][] = [
    ['2001:db8::/32', '2001:db8:c000:221::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100:0'],
    ['2001:db8:122:344::/96', '2001:db8:122:344::192.0.2.33'],
  ];
  for (const [prefix, address] of examples) {
    assert.equal(embeddedIPv4(address, nat64Prefixes([prefix])), '192.0.2.33', prefix);
    assert.equal(embeddedIPv4(address, nat64Prefixes()), undefined, `${prefix} not configured`);
  }
  // The "u" octet (bits 64-71) must be zero: otherwise no address of this format.
  assert.equal(embeddedIPv4('2001:db8:c000:221:100::', nat64Prefixes(['2001:db8::/32'])), undefined);
});

test('parseNat64Prefix: RFC 6052 lengths only, with a message naming them', () => {
  assert.deepEqual(parseNat64Prefix('64:ff9b::/96'), {
    bytes: [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0],
    bits: 96,
  });
  assert.match(
    String(parseNat64Prefix('2001:db8::/80')),
    /\/32, \/40, \/48, \/56, \/64 or \/96 \(RFC 6052\)/,
  );
  assert.match(String(parseNat64Prefix('2001:db8::')), /an IPv6 prefix with its length/);
  assert.match(String(parseNat64Prefix('192.0.2.0/24')), /an IPv6 prefix with its length/);
  assert.match(String(parseNat64Prefix('fe80::%eth0/64')), /an IPv6 prefix with its length/);
});
