import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Code } from '../../protocol/codes.js';
import { reply } from '../../protocol/reply.js';
import { pasvAddress } from './features.js';

const pasv = (h: string): ReturnType<typeof reply> =>
  reply(Code.EnteringPassive, `Entering Passive Mode (${h.replaceAll('.', ',')},195,80).`);

test('pasv-address: the same address as the control connection passes', () => {
  const p = pasvAddress('127.0.0.1', pasv('127.0.0.1'));
  assert.equal(p.verdict, 'pass');
  assert.equal(p.received, '127.0.0.1 (control: 127.0.0.1)');
});

test('pasv-address: another address fails, said for what it is, with no guess at the cause', () => {
  // A configured passive address on loopback is neither private nor a NAT without one.
  for (const [host, control, kind] of [
    ['127.0.0.2', '127.0.0.1', 'loopback'],
    ['192.168.1.5', '203.0.113.7', 'private'],
    ['10.1.2.3', '127.0.0.1', 'private'],
    ['169.254.0.9', '127.0.0.1', 'link-local'],
    ['100.64.0.1', '127.0.0.1', 'carrier-grade NAT'],
    ['198.51.100.2', '203.0.113.7', 'public'],
  ] as const) {
    const p = pasvAddress(control, pasv(host));
    assert.equal(p.verdict, 'fail', host);
    assert.equal(p.received, `${host} (control: ${control})`);
    assert.equal(p.detail, `a ${kind} address, not the control connection's: clients must ignore it`);
  }
});
