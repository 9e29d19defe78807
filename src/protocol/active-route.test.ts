import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeRoute } from './active-route.js';

test('activeRoute: leaves from the address the client connected to (a secondary one too)', () => {
  assert.deepEqual(activeRoute('10.203.1.20', { peer: '10.203.1.20', local: '10.203.1.10' }), {
    host: '10.203.1.20',
    localAddress: '10.203.1.10',
  });
  assert.deepEqual(activeRoute('2001:db8::20', { peer: '2001:db8::20', local: '2001:db8::10' }), {
    host: '2001:db8::20',
    localAddress: '2001:db8::10',
  });
});

test('activeRoute: IPv4-mapped ends (a dual-stack listener) become IPv4, one family on both ends', () => {
  const control = { peer: '::ffff:127.0.0.1', local: '::ffff:127.0.0.2' };
  assert.deepEqual(activeRoute('127.0.0.1', control), { host: '127.0.0.1', localAddress: '127.0.0.2' });
  assert.deepEqual(activeRoute('::ffff:127.0.0.1', control), {
    host: '127.0.0.1',
    localAddress: '127.0.0.2',
  });
});

test('activeRoute: behind a proxy (no local end) or across families, the kernel chooses', () => {
  assert.deepEqual(activeRoute('192.0.2.9', { peer: '192.0.2.9' }), { host: '192.0.2.9' });
  assert.deepEqual(activeRoute('2001:db8::9', { peer: '2001:db8::9', local: '10.0.0.1' }), {
    host: '2001:db8::9',
  });
});

test("activeRoute: a link-local EPRT address takes the control peer's zone, and so does our end without one", () => {
  assert.deepEqual(activeRoute('fe80::2', { peer: 'fe80::2%t3-h0', local: 'fe80::1%t3-h0' }), {
    host: 'fe80::2%t3-h0',
    localAddress: 'fe80::1%t3-h0',
  });
  assert.deepEqual(activeRoute('FE80::2', { peer: 'fe80::2%t3-h0', local: 'fe80::1' }), {
    host: 'fe80::2%t3-h0',
    localAddress: 'fe80::1%t3-h0',
  });
  // Behind a proxy: the zone still comes from the peer when it has one.
  assert.deepEqual(activeRoute('fe80::2', { peer: 'fe80::2%eth1' }), { host: 'fe80::2%eth1' });
});

test('activeRoute: no zone is given where the peer is not that link-local address', () => {
  // A zoneless peer (from a PROXY header) has none to give.
  assert.deepEqual(activeRoute('fe80::2', { peer: 'fe80::2' }), { host: 'fe80::2' });
  // Another address (the caller refuses it before; the route never borrows a zone for it).
  assert.deepEqual(activeRoute('fe80::3', { peer: 'fe80::2%t3-h0' }), { host: 'fe80::3' });
  // A global peer: nothing link-local to scope.
  assert.deepEqual(activeRoute('2001:db8::2', { peer: '2001:db8::2%t3-h0' }), { host: '2001:db8::2' });
});
