/**
 * A connection that reaches a server once it stops (a cluster worker: the primary handed it over
 * before it learned the worker stops) is refused with a 421 that says so, not a false "Too many
 * connections", and logged as such; on the implicit port it is closed without a reply.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { withDeadline } from '../support/raw-ftp.js';
import { startFerry } from '../support/ferry.js';

test('a connection handed to a stopping server is refused with "421 Server shutting down", logged as such', async () => {
  const t = await startFerry();
  // As a cluster primary accepts: paused, handed to the server before any byte is read.
  const acceptor = net.createServer({ pauseOnConnect: true }, (s) => t.server.handleConnection(s, false));
  try {
    acceptor.listen(0, '127.0.0.1');
    await once(acceptor, 'listening');
    await t.server.close();
    const client = net.connect({ host: '127.0.0.1', port: (acceptor.address() as net.AddressInfo).port });
    let text = '';
    client.on('data', (d: Buffer) => (text += d.toString()));
    await withDeadline(once(client, 'close'), 10_000, 'the refusal');
    assert.match(text, /^421 Server shutting down/);
    const logged = t.logs.map((l) => l.msg);
    assert.ok(logged.includes('connection refused: server shutting down'), logged.join('\n'));
    assert.ok(!logged.includes('connection refused: too many sessions'), logged.join('\n'));
  } finally {
    acceptor.close();
    await t.close();
  }
});

test('on the implicit port, a connection handed to a stopping server is closed without a reply (nothing may precede TLS)', async () => {
  const t = await startFerry();
  const acceptor = net.createServer({ pauseOnConnect: true }, (s) => t.server.handleConnection(s, true));
  try {
    acceptor.listen(0, '127.0.0.1');
    await once(acceptor, 'listening');
    await t.server.close();
    const client = net.connect({ host: '127.0.0.1', port: (acceptor.address() as net.AddressInfo).port });
    let received = 0;
    client.on('data', (d: Buffer) => (received += d.length));
    await withDeadline(once(client, 'close'), 10_000, 'the close');
    assert.equal(received, 0);
    const logged = t.logs.map((l) => l.msg);
    assert.ok(logged.includes('connection refused: server shutting down'), logged.join('\n'));
  } finally {
    acceptor.close();
    await t.close();
  }
});
