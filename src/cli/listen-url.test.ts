import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenUrl } from './listen-url.js';

test('listenUrl: an address as it is; IPv6 in brackets, a zone as %25 (a bare % is no URL)', () => {
  assert.equal(listenUrl('ftps', '192.0.2.7', 990, ['192.0.2.7']), 'ftps://192.0.2.7:990');
  assert.equal(listenUrl('ftps', '::1', 990, ['127.0.0.1', '::1']), 'ftps://[::1]:990');
  assert.equal(listenUrl('ftpes', 'fe80::1%eth0', 21, ['fe80::1%eth0']), 'ftpes://[fe80::1%25eth0]:21');
});

test('listenUrl: a wildcard as an address it answers on, saying it listens on all', () => {
  assert.equal(listenUrl('ftps', '::', 990, ['::']), 'ftps://localhost:990 (all addresses)');
  assert.equal(listenUrl('ftps', '0.0.0.0', 990, ['0.0.0.0']), 'ftps://127.0.0.1:990 (all IPv4 addresses)');
  // Beside an IPv4 address, `::` takes IPv6 only (listener.ts).
  assert.equal(listenUrl('ftps', '::', 990, ['0.0.0.0', '::']), 'ftps://[::1]:990 (all IPv6 addresses)');
  assert.equal(listenUrl('ftps', '::', 990, ['::', 'fe80::1%eth0']), 'ftps://[::1]:990 (all addresses)');
});
