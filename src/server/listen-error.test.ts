import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryError } from '../errors.js';
import { listenError } from './listen-error.js';

/** Node's error of a listen() that failed with `code`. */
function nodeError(code: string, host: string, port: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}: ${host}:${port}`), { code, syscall: 'listen' });
}

for (const [code, ferryCode, why] of [
  ['EADDRINUSE', 'ERR_ADDRESS_IN_USE', /in use \(EADDRINUSE\)/],
  [
    'EADDRNOTAVAIL',
    'ERR_ADDRESS_NOT_AVAILABLE',
    /no interface of this machine has that address \(EADDRNOTAVAIL\)/,
  ],
  [
    'EACCES',
    'ERR_ADDRESS_DENIED',
    /permission denied \(EACCES\): a port below 1024 needs root or CAP_NET_BIND_SERVICE/,
  ],
] as const) {
  test(`${code}: a FerryError ${ferryCode} naming the address, port and listener, Node's error its cause`, () => {
    const cause = nodeError(code, '192.0.2.7', 990);
    const err = listenError(cause, '192.0.2.7', 990, true);
    assert.ok(err instanceof FerryError);
    assert.equal(err.code, ferryCode);
    assert.equal(err.cause, cause);
    assert.match(err.message, /^Cannot listen on 192\.0\.2\.7 port 990 \(implicit FTPS\): /);
    assert.match(err.message, why);
  });
}

test('EACCES on a port of 1024 or above: no advice about privileged ports', () => {
  const err = listenError(nodeError('EACCES', '::', 2121), '::', 2121, false);
  assert.ok(err instanceof FerryError);
  assert.equal(err.message, 'Cannot listen on :: port 2121 (explicit FTPS): permission denied (EACCES).');
});

test('any other error is left as it is', () => {
  for (const other of [nodeError('EINVAL', '::', 21), new TypeError('x'), nodeError('constructor', '::', 21)])
    assert.equal(listenError(other, '::', 21, false), other);
});

test('EINVAL on a link-local address without its zone (fe80::1): says it needs its interface', () => {
  const err = listenError(nodeError('EINVAL', 'fe80::1', 21), 'fe80::1', 21, false);
  assert.ok(err instanceof FerryError);
  assert.equal(err.code, 'ERR_ADDRESS_NOT_AVAILABLE');
  assert.match(
    err.message,
    /^Cannot listen on fe80::1 port 21 \(explicit FTPS\): fe80::1 is a link-local address, which needs its interface: write fe80::1%eth0/,
  );
  // With its zone, an EINVAL is something else: left as it is.
  const zoned = nodeError('EINVAL', 'fe80::1%eth0', 21);
  assert.equal(listenError(zoned, 'fe80::1%eth0', 21, false), zoned);
});
