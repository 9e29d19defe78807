import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatProxyV1,
  MAX_V1_BYTES,
  MAX_V2_PAYLOAD,
  parseProxyHeader,
  proxySignature,
  type ProxyParse,
} from './proxy-protocol.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header as HAProxy's send-proxy-v2 writes it, with optional TLV bytes after the addresses. */
function v2(opts: {
  command?: number;
  family?: number;
  transport?: number;
  addresses?: Buffer;
  tlv?: Buffer;
  version?: number;
  length?: number;
}): Buffer {
  const body = Buffer.concat([opts.addresses ?? Buffer.alloc(0), opts.tlv ?? Buffer.alloc(0)]);
  const head = Buffer.alloc(4);
  head[0] = ((opts.version ?? 2) << 4) | (opts.command ?? 1);
  head[1] = ((opts.family ?? 1) << 4) | (opts.transport ?? 1);
  head.writeUInt16BE(opts.length ?? body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

const header = (p: ProxyParse): Extract<ProxyParse, { kind: 'header' }> => {
  assert.equal(p.kind, 'header', JSON.stringify(p));
  return p as Extract<ProxyParse, { kind: 'header' }>;
};
const reason = (p: ProxyParse): string => {
  assert.equal(p.kind, 'invalid', JSON.stringify(p));
  return (p as { reason: string }).reason;
};

test('v1 TCP4: addresses, ports, length; what follows is left to the caller', () => {
  const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n';
  const p = header(parseProxyHeader(Buffer.from(`${line}USER x\r\n`)));
  assert.deepEqual(p.header, {
    version: 1,
    source: { address: '192.0.2.7', port: 56324 },
    destination: { address: '198.51.100.1', port: 21 },
  });
  assert.equal(p.length, line.length);
});

test('v1 TCP6 is normalized (compressed, mapped IPv4 as IPv4); UNKNOWN has no addresses', () => {
  const p = header(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8:0:0:0:0:0:7 ::ffff:10.0.0.1 1 2\r\n')));
  assert.equal(p.header.source?.address, '2001:db8::7');
  assert.equal(p.header.destination?.address, '10.0.0.1');
  const u = header(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff:: ffff:: 1 2\r\n')));
  assert.equal(u.header.source, undefined);
  assert.equal(header(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).length, 15);
});

test('v1: formatProxyV1 round-trips', () => {
  const bytes = formatProxyV1({ address: '127.0.0.2', port: 40000 }, { address: '127.0.0.1', port: 2121 });
  const p = header(parseProxyHeader(bytes));
  assert.deepEqual(p.header.source, { address: '127.0.0.2', port: 40000 });
  assert.equal(p.length, bytes.length);
});

test('v1 garbage is invalid with a reason', () => {
  const bad = [
    'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n',
    'PROXY TCP4 ::1 5.6.7.8 1 2\r\n',
    'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n',
    'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n',
    'PROXY TCP4 300.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY \r\n',
  ];
  for (const line of bad) assert.ok(reason(parseProxyHeader(Buffer.from(line))).length > 0, line);
  // A byte that cannot be in a header: invalid at once, without waiting for 107 bytes.
  assert.match(reason(parseProxyHeader(Buffer.from('PROXY TCP4 \x00'))), /printable/);
});

test('v1 truncated is incomplete; oversized (no CRLF within 107 bytes) is invalid', () => {
  const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n';
  for (let n = 1; n < line.length; n++) {
    assert.equal(parseProxyHeader(Buffer.from(line.slice(0, n))).kind, 'incomplete', line.slice(0, n));
  }
  const long = `PROXY TCP4 ${'1'.repeat(MAX_V1_BYTES)}`;
  assert.match(reason(parseProxyHeader(Buffer.from(long))), /longer than 107/);
  // CRLF just past the bound still counts as too long.
  const over = `PROXY UNKNOWN ${'x'.repeat(MAX_V1_BYTES - 15)}\r\n`;
  assert.equal(over.length, MAX_V1_BYTES + 1);
  assert.equal(parseProxyHeader(Buffer.from(over)).kind, 'invalid');
  const atBound = `PROXY UNKNOWN ${'x'.repeat(MAX_V1_BYTES - 16)}\r\n`;
  assert.equal(header(parseProxyHeader(Buffer.from(atBound))).length, MAX_V1_BYTES);
});

test('v2 INET and INET6 PROXY, with TLVs skipped', () => {
  const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]); // ALPN "h2"
  const bytes = v2({ addresses: inet4([127, 0, 0, 2], [127, 0, 0, 1], 40001, 2121), tlv });
  const p = header(parseProxyHeader(Buffer.concat([bytes, Buffer.from('rest')])));
  assert.deepEqual(p.header, {
    version: 2,
    source: { address: '127.0.0.2', port: 40001 },
    destination: { address: '127.0.0.1', port: 2121 },
  });
  assert.equal(p.length, bytes.length);

  const six = Buffer.alloc(36);
  six.writeUInt16BE(0x2001, 0);
  six.writeUInt16BE(0x0db8, 2);
  six[15] = 9;
  six[31] = 1; // ::1
  six.writeUInt16BE(5000, 32);
  six.writeUInt16BE(21, 34);
  const q = header(parseProxyHeader(v2({ family: 2, addresses: six })));
  assert.deepEqual(q.header.source, { address: '2001:db8::9', port: 5000 });
  assert.deepEqual(q.header.destination, { address: '::1', port: 21 });
});

test('v2 LOCAL, UNSPEC and UNIX carry no client address', () => {
  for (const h of [
    v2({ command: 0, family: 0, transport: 0 }),
    v2({ command: 0, addresses: inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) }),
    v2({ family: 0, transport: 0 }),
    v2({ family: 3, addresses: Buffer.alloc(216) }),
  ]) {
    const p = header(parseProxyHeader(h));
    assert.equal(p.header.source, undefined);
    assert.equal(p.length, h.length);
  }
});

test('v2 garbage is invalid with a reason', () => {
  assert.match(reason(parseProxyHeader(v2({ version: 1 }))), /version 1/);
  assert.match(reason(parseProxyHeader(v2({ command: 2 }))), /command 2/);
  assert.match(reason(parseProxyHeader(v2({ family: 4 }))), /family/);
  assert.match(
    reason(parseProxyHeader(v2({ transport: 2, addresses: inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) }))),
    /stream/,
  );
  assert.match(reason(parseProxyHeader(v2({ addresses: Buffer.alloc(11) }))), /shorter/);
  assert.match(reason(parseProxyHeader(v2({ family: 2, addresses: Buffer.alloc(35) }))), /shorter/);
});

test('v2 truncated is incomplete; oversized is invalid before its bytes arrive', () => {
  const bytes = v2({ addresses: inet4([127, 0, 0, 2], [127, 0, 0, 1], 1, 2) });
  for (let n = 1; n < bytes.length; n++) {
    assert.equal(parseProxyHeader(bytes.subarray(0, n)).kind, 'incomplete', `${n} bytes`);
  }
  const huge = v2({ length: MAX_V2_PAYLOAD + 1 });
  assert.match(reason(parseProxyHeader(huge)), /1025 bytes/);
  assert.equal(parseProxyHeader(v2({ length: 0xffff })).kind, 'invalid');
});

test('bytes that are no header: none; signature detection for untrusted peers', () => {
  for (const s of ['USER anonymous\r\n', 'PROXZ', '\x16\x03\x01\x02\x00', 'GET / HTTP/1.1\r\n']) {
    assert.equal(parseProxyHeader(Buffer.from(s, 'latin1')).kind, 'none', s);
    assert.equal(proxySignature(Buffer.from(s, 'latin1')), 'no', s);
  }
  assert.equal(parseProxyHeader(Buffer.alloc(0)).kind, 'incomplete');
  assert.equal(proxySignature(Buffer.from('PRO')), 'maybe');
  assert.equal(proxySignature(Buffer.from('PROXY ')), 'yes');
  assert.equal(proxySignature(SIG.subarray(0, 5)), 'maybe');
  assert.equal(proxySignature(SIG), 'yes');
  assert.equal(proxySignature(Buffer.from('PASV\r\n')), 'no');
});
