import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import { FerryError } from '../../errors.js';
import { ProbeState, timedOut, unavailable, type ProbeTarget } from './connection.js';

function target(port: number, security: 'explicit' | 'implicit'): ProbeTarget {
  return {
    host: '127.0.0.1',
    port,
    security,
    user: 'u',
    password: 'p',
    servername: undefined,
    ca: undefined,
    trust: undefined,
    timeoutMs: 300,
    log: undefined,
    state: new ProbeState(),
  };
}

/** A listener that does `onConnection` with each connection; closed with every socket after `fn`. */
async function withServer(
  onConnection: (s: net.Socket) => void,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as net.AddressInfo).port);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('unavailable: a server that takes the connection and says nothing has stopped answering', async () => {
  await withServer(
    () => {},
    async (port) => {
      // Implicit: no TLS handshake; explicit: no greeting.
      for (const security of ['implicit', 'explicit'] as const)
        assert.equal(
          await unavailable(target(port, security)),
          'the server stopped answering (no reply within 300 ms)',
          security,
        );
    },
  );
});

test('unavailable: a refusal is told as one, a greeting is none', async () => {
  await withServer(
    (s) => s.end('421 Too many connections.\r\n'),
    async (port) => {
      assert.equal(
        await unavailable(target(port, 'explicit')),
        'server refused the connection: 421 Too many connections.',
      );
    },
  );
  await withServer(
    (s) => s.write('220 ready\r\n'),
    async (port) => {
      assert.equal(await unavailable(target(port, 'explicit')), undefined);
    },
  );
});

test('a TLS handshake that timed out is a timeout (the ERR_TLS names it as its cause)', () => {
  const timeout = new FerryError('ERR_TIMEOUT', 'TLS handshake timed out after 300 ms.');
  assert.equal(timedOut(new FerryError('ERR_TLS', 'TLS handshake with h:1: …', { cause: timeout })), true);
  assert.equal(timedOut(new FerryError('ERR_TLS', 'TLS handshake failed: alert')), false);
});
