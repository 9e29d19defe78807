import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenHost } from './listen-host.js';

test('listenHost: [addr] is addr; other addresses and names as given', () => {
  assert.equal(listenHost('[fd03::1]', '--listen'), 'fd03::1');
  assert.equal(listenHost('[::]', '--listen'), '::');
  assert.equal(listenHost('[fe80::1%eth0]', '--listen'), 'fe80::1%eth0');
  assert.equal(listenHost('::1', '--listen'), '::1');
  assert.equal(listenHost('127.0.0.1', '--listen'), '127.0.0.1');
  assert.equal(listenHost('localhost', '--listen'), 'localhost');
});

test('listenHost: other bracketed text is refused, naming the setting', () => {
  for (const text of ['[::1]:21', '[localhost]', '[127.0.0.1]', '[::1', '[]']) {
    assert.throws(
      () => listenHost(text, 'ferry.yaml: listen'),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_USAGE' &&
        err.message.startsWith('ferry.yaml: listen: expected an address like') &&
        err.message.endsWith(`got "${text}".`),
      text,
    );
  }
});
