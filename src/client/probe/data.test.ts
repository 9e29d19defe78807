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

test('a transfer refused at once (522) over an open data connection ends without waiting for data', async () => {
  // vsftpd's force_local_data_ssl: PROT C accepted, then 522 to the listing, its data connection
  // (accepted by the listener) left open and silent.
  const open = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    s.on('error', () => {});
    open.add(s);
  };
  const passive = net.createServer(track);
  passive.listen(0, '127.0.0.1');
  await once(passive, 'listening');
  const server = net.createServer((sock) => {
    track(sock);
    sock.write('220 ready\r\n');
    const lines = readline.createInterface({ input: sock, crlfDelay: Infinity });
    lines.on('error', () => {});
    lines.on('line', (line) => {
      if (line.startsWith('USER')) sock.write('331 password\r\n');
      else if (line.startsWith('PASS')) sock.write('230 in\r\n');
      else if (line.startsWith('EPSV'))
        sock.write(
          `229 Entering Extended Passive Mode (|||${(passive.address() as net.AddressInfo).port}|)\r\n`,
        );
      else if (line.startsWith('NLST')) sock.write('522 SSL connection required\r\n');
      else sock.write('502 no\r\n');
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
      timeoutMs: 3000,
      log: undefined,
      state: new ProbeState(),
    });
    try {
      const o = await exchange(c, { command: 'NLST', tls: false });
      assert.equal(o.final?.code, 522);
      // Not "no data for 3000 ms": the refusal, not a stalled data connection, ended it.
      assert.equal(o.error, undefined);
    } finally {
      await c.close();
    }
  } finally {
    for (const s of open) s.destroy();
    server.close();
    passive.close();
  }
});
