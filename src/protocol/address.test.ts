import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressFamily,
  addressGroup,
  addressKind,
  formatEprtArg,
  formatEpsvReply,
  formatPasvReply,
  formatPortArg,
  netProtocolOf,
  normalizeAddress,
  parseEprtArg,
  parseEpsvArg,
  parseEpsvReply,
  parsePasvReply,
  parsePortArg,
  sameHost,
  toIPv4,
} from './address.js';

test('parsePortArg: valid and invalid', () => {
  assert.deepEqual(parsePortArg('127,0,0,1,4,1'), { host: '127.0.0.1', port: 1025 });
  assert.deepEqual(parsePortArg(' 10,1,2,3,255,255 '), { host: '10.1.2.3', port: 65535 });
  assert.equal(parsePortArg('127,0,0,1,0,0'), undefined); // port 0
  assert.equal(parsePortArg('256,0,0,1,4,1'), undefined);
  assert.equal(parsePortArg('127,0,0,1,4,256'), undefined);
  assert.equal(parsePortArg('127,0,0,1,4'), undefined);
  assert.equal(parsePortArg('127,0,0,1,4,1,7'), undefined);
  assert.equal(parsePortArg('a,b,c,d,e,f'), undefined);
  assert.equal(parsePortArg('-1,0,0,1,4,1'), undefined);
  assert.equal(parsePortArg(''), undefined);
});

test('formatPortArg / formatPasvReply: IPv4 and IPv4-mapped only', () => {
  assert.equal(formatPortArg('192.168.1.20', 50001), '192,168,1,20,195,81');
  assert.equal(formatPasvReply('::ffff:127.0.0.1', 1025), 'Entering Passive Mode (127,0,0,1,4,1).');
  assert.throws(() => formatPasvReply('::1', 1025), RangeError);
  assert.throws(() => formatPasvReply('127.0.0.1', 0), RangeError);
  assert.throws(() => formatPortArg('127.0.0.1', 70000), RangeError);
});

test('parsePasvReply: with and without parentheses and code', () => {
  const expected = { host: '127.0.0.1', port: 1025 };
  assert.deepEqual(parsePasvReply('227 Entering Passive Mode (127,0,0,1,4,1).'), expected);
  assert.deepEqual(parsePasvReply('227 =127,0,0,1,4,1'), expected);
  assert.deepEqual(parsePasvReply('Entering Passive Mode 127,0,0,1,4,1'), expected);
  assert.deepEqual(parsePasvReply('227 Entering Passive Mode (127, 0, 0, 1, 4, 1)'), expected);
  assert.deepEqual(parsePasvReply(formatPasvReply('10.0.0.5', 2121)), { host: '10.0.0.5', port: 2121 });
  assert.equal(parsePasvReply('227 Entering Passive Mode (300,0,0,1,4,1).'), undefined);
  assert.equal(parsePasvReply('227 Entering Passive Mode.'), undefined);
});

test('parseEprtArg: IPv4, IPv6, other delimiters, unsupported protocol, garbage', () => {
  assert.deepEqual(parseEprtArg('|1|132.235.1.2|6275|'), {
    kind: 'address',
    protocol: 1,
    host: '132.235.1.2',
    port: 6275,
  });
  assert.deepEqual(parseEprtArg('|2|::1|5282|'), { kind: 'address', protocol: 2, host: '::1', port: 5282 });
  assert.deepEqual(parseEprtArg('!2!FE80:0:0:0:0:0:0:1!21!'), {
    kind: 'address',
    protocol: 2,
    host: 'fe80::1',
    port: 21,
  });
  assert.deepEqual(parseEprtArg('#1#10.0.0.1#65535#'), {
    kind: 'address',
    protocol: 1,
    host: '10.0.0.1',
    port: 65535,
  });
  assert.deepEqual(parseEprtArg('|3|whatever|21|'), { kind: 'unsupported-protocol', protocol: 3 });
  assert.equal(parseEprtArg('|1|::1|21|'), undefined); // family mismatch
  assert.equal(parseEprtArg('|2|1.2.3.4|21|'), undefined);
  // lftp over link-local sends its own zone (vsftpd accepts): it names the client's interface, so it
  // is dropped; the peer check still compares the address with the control connection's.
  assert.deepEqual(parseEprtArg('|2|fe80::1%eth0|21|'), {
    kind: 'address',
    protocol: 2,
    host: 'fe80::1',
    port: 21,
  });
  assert.equal(parseEprtArg('|2|fe80::1%|21|'), undefined);
  assert.equal(parseEprtArg('|2|fe80::1%a b|21|'), undefined);
  assert.equal(parseEprtArg('|2|1.2.3.4%eth0|21|'), undefined);
  assert.equal(parseEprtArg('|1|1.2.3.4|0|'), undefined);
  assert.equal(parseEprtArg('|1|1.2.3.4|65536|'), undefined);
  assert.equal(parseEprtArg('|1|1.2.3.4|21'), undefined);
  assert.equal(parseEprtArg('|1|1.2.3.4|21|x'), undefined);
  assert.equal(parseEprtArg(' 1 1.2.3.4 21 '), undefined); // space is not a valid delimiter
  assert.equal(parseEprtArg(''), undefined);
  assert.equal(parseEprtArg('|x|1.2.3.4|21|'), undefined);
});

test('formatEprtArg picks the protocol from the address', () => {
  assert.equal(formatEprtArg('132.235.1.2', 6275), '|1|132.235.1.2|6275|');
  assert.equal(formatEprtArg('::ffff:10.0.0.1', 21), '|1|10.0.0.1|21|');
  assert.equal(formatEprtArg('0:0:0:0:0:0:0:1', 5282), '|2|::1|5282|');
  assert.deepEqual(parseEprtArg(formatEprtArg('2001:db8::7', 4000)), {
    kind: 'address',
    protocol: 2,
    host: '2001:db8::7',
    port: 4000,
  });
  assert.throws(() => formatEprtArg('example.com', 21), RangeError);
  assert.throws(() => formatEprtArg('::1', 0), RangeError);
});

test('parseEpsvArg', () => {
  assert.deepEqual(parseEpsvArg(''), { kind: 'any' });
  assert.deepEqual(parseEpsvArg('ALL'), { kind: 'all' });
  assert.deepEqual(parseEpsvArg('all'), { kind: 'all' });
  assert.deepEqual(parseEpsvArg('1'), { kind: 'protocol', protocol: 1 });
  assert.deepEqual(parseEpsvArg('2'), { kind: 'protocol', protocol: 2 });
  assert.deepEqual(parseEpsvArg('7'), { kind: 'unsupported-protocol', protocol: 7 });
  assert.equal(parseEpsvArg('foo'), undefined);
  assert.equal(parseEpsvArg('-1'), undefined);
});

test('EPSV reply format and parse', () => {
  assert.equal(formatEpsvReply(6446), 'Entering Extended Passive Mode (|||6446|)');
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (|||6446|)'), 6446);
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (!!!6446!)'), 6446);
  assert.equal(parseEpsvReply('229 |||6446|'), 6446);
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (|||0|)'), undefined);
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (|||99999|)'), undefined);
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (||6446|)'), undefined);
  assert.equal(parseEpsvReply('229 Entering Extended Passive Mode (|!|6446|)'), undefined);
  assert.throws(() => formatEpsvReply(0), RangeError);
});

test('normalizeAddress', () => {
  assert.equal(normalizeAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normalizeAddress('::FFFF:7f00:1'), '127.0.0.1');
  assert.equal(normalizeAddress('10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeAddress('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(normalizeAddress('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(normalizeAddress('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'); // single 0 not compressed
  assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1%eth0');
  assert.equal(normalizeAddress('::'), '::');
  assert.equal(normalizeAddress('::1.2.3.4'), '::102:304'); // IPv4-compatible, not mapped
  assert.equal(normalizeAddress('Example.COM'), 'example.com');
});

test('addressFamily and toIPv4', () => {
  assert.equal(addressFamily('1.2.3.4'), 4);
  assert.equal(addressFamily('::ffff:1.2.3.4'), 4);
  assert.equal(addressFamily('::1'), 6);
  assert.equal(addressFamily('nope'), undefined);
  assert.equal(toIPv4('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(toIPv4('::1'), undefined);
});

test('netProtocolOf: the EPRT/EPSV protocol of an address, an IPv4-mapped one being IPv4 (1)', () => {
  assert.equal(netProtocolOf('127.0.0.1'), 1);
  assert.equal(netProtocolOf('::ffff:127.0.0.1'), 1);
  assert.equal(netProtocolOf('::1'), 2);
  assert.equal(netProtocolOf('fe80::1%eth0'), 2);
});

test('sameHost compares after normalization', () => {
  assert.ok(sameHost('::ffff:127.0.0.1', '127.0.0.1'));
  assert.ok(sameHost('::1', '0:0:0:0:0:0:0:1'));
  assert.ok(sameHost('FE80::1%eth0', 'fe80::1'));
  assert.ok(!sameHost('127.0.0.1', '127.0.0.2'));
  assert.ok(!sameHost('::1', '127.0.0.1'));
});

test('addressKind: what a non-public address is, IPv4-mapped and zoned ones too; names are public', () => {
  assert.equal(addressKind('127.0.0.2'), 'loopback');
  assert.equal(addressKind('::ffff:127.0.0.1'), 'loopback');
  assert.equal(addressKind('::1'), 'loopback');
  assert.equal(addressKind('10.1.2.3'), 'private');
  assert.equal(addressKind('fd00::1'), 'private');
  assert.equal(addressKind('fe80::1%eth0'), 'link-local');
  assert.equal(addressKind('100.64.0.1'), 'carrier-grade NAT');
  // `ferry probe` called a PASV reply of 0.0.0.0 "a public address".
  assert.equal(addressKind('0.0.0.0'), 'unspecified');
  assert.equal(addressKind('::'), 'unspecified');
  assert.equal(addressKind('8.8.8.8'), 'public');
  assert.equal(addressKind('localhost'), 'public');
});

test('addressGroup: IPv6 by its network (any spelling), IPv4 and mapped IPv4 by address, 128 per address', () => {
  assert.equal(addressGroup('2001:db8:1::5', 64), '2001:db8:1::/64');
  assert.equal(addressGroup('2001:DB8:1:0:ffff:aaaa:1234:9', 64), '2001:db8:1::/64');
  assert.equal(addressGroup('2001:db8:1:0:8000::1', 65), '2001:db8:1:0:8000::/65');
  assert.equal(addressGroup('2001:db8:1:0:7fff::1', 65), '2001:db8:1::/65');
  assert.equal(addressGroup('2001:db8:abcd:12ff::1', 56), '2001:db8:abcd:1200::/56');
  assert.equal(addressGroup('fe80::1%eth0', 64), 'fe80::/64');
  assert.equal(addressGroup('2001:db8::1', 0), '::/0');
  assert.equal(addressGroup('2001:db8:1::5', 128), '2001:db8:1::5');
  assert.equal(addressGroup('192.0.2.7', 64), '192.0.2.7');
  assert.equal(addressGroup('::ffff:192.0.2.7', 64), '192.0.2.7');
  assert.equal(addressGroup('2001:db8:1::/64', 64), '2001:db8:1::/64', 'a key stays itself');
});
