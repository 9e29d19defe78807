import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import readline from 'node:readline';
import { test } from 'node:test';

import { ProbeConnection, ProbeState } from './connection.js';
import { exchange } from './data.js';

test('an EPRT that gets no reply leaves no listener open behind the probe', async () => {
  // The server logs in, then drops the connection on EPRT: the probe's request fails.
  let eprtPort = 0;
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.write('220 ready\r\n');
    const lines = readline.createInterface({ input: sock, crlfDelay: Infinity });
    lines.on('error', () => {}); // readline re-emits the socket's errors (a reset would be uncaught)
    lines.on('line', (line) => {
      if (line.startsWith('USER')) sock.write('331 password\r\n');
      else if (line.startsWith('PASS')) sock.write('230 in\r\n');
      else if (line.startsWith('EPRT')) {
        eprtPort = Number(line.split('|')[3]);
        sock.destroy();
      } else sock.write('502 no\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const c = await ProbeConnection.open({
      host: '127.0.0.1',
      port: (server.address() as net.AddressInfo).port,
      security: 'none',
      user: 'u',
      password: 'p',
      servername: undefined,
      ca: undefined,
      trust: undefined,
      timeoutMs: 5000,
      log: undefined,
      state: new ProbeState(),
    });
    await assert.rejects(exchange(c, { command: 'NLST', mode: 'eprt', tls: false }));
    assert.ok(eprtPort > 0, 'the probe sent EPRT with its listening port');
    // Nothing listens there any more: the connection is refused at once.
    const probe = net.connect(eprtPort, '127.0.0.1');
    const outcome = await new Promise<string>((resolve) => {
      probe.once('connect', () => resolve('accepted'));
      probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    probe.destroy();
    assert.equal(outcome, 'ECONNREFUSED');
  } finally {
    server.close();
  }
});
