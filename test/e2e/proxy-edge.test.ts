/**
 * ProxyEdge over real loopback sockets: a header in pieces, bytes after it kept for the session,
 * the byte cap, the timeout, and `required: false`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';
import { ProxyEdge, type EdgeOutcome, type ProxySettings } from '../../src/server/proxy-edge.js';
import { withDeadline } from '../support/raw-ftp.js';

/** One connection from `from` to a fresh listener, `send` applied to the client's end; the edge's verdict. */
async function verdict(
  settings: ProxySettings,
  from: string,
  send: (client: net.Socket) => void,
): Promise<EdgeOutcome> {
  const edge = new ProxyEdge(settings);
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ host: '127.0.0.1', port, localAddress: from });
  client.on('error', () => {});
  try {
    const socket = await accepted;
    socket.on('error', () => {});
    send(client);
    const outcome = await withDeadline(edge.accept(socket, from), 10_000, 'the edge');
    socket.destroy();
    return outcome;
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const trusted: ProxySettings = { trusted: ['127.0.0.1/32'], required: true, headerTimeoutMs: 2_000 };
const header = formatProxyV1({ address: '192.0.2.44', port: 5555 }, { address: '198.51.100.2', port: 21 });

describe('ProxyEdge on real sockets', () => {
  test('a header written byte by byte, and the client bytes after it, are kept apart', async () => {
    const r = await verdict(trusted, '127.0.0.1', (c) => {
      const bytes = Buffer.concat([header, Buffer.from('USER x\r\n')]);
      let i = 0;
      const next = (): void => {
        if (i < bytes.length) c.write(bytes.subarray(i, ++i), next);
      };
      next();
    });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.origin, {
      address: '192.0.2.44',
      port: 5555,
      arrivedOn: '198.51.100.2',
      proxied: true,
      screen: false,
    });
    // The edge stops reading once the header is whole: what follows may still be in the socket.
    assert.ok(Buffer.from('USER x\r\n').subarray(0, r.rest.length).equals(r.rest));
  });

  test('an untrusted peer is left unread and screened', async () => {
    const r = await verdict({ ...trusted, trusted: ['127.0.0.9/32'] }, '127.0.0.1', (c) => c.write(header));
    assert.ok(r.ok);
    assert.equal(r.origin.address, '127.0.0.1');
    assert.equal(r.origin.screen, true);
    assert.equal(r.rest.length, 0);
  });

  test('refused: garbage, more bytes than any header, silence past the timeout', async () => {
    const garbage = await verdict(trusted, '127.0.0.1', (c) => c.write('PROXY TCP4 nope\r\n'));
    assert.ok(!garbage.ok && /invalid PROXY header/.test(garbage.why), JSON.stringify(garbage));
    const flood = await verdict(trusted, '127.0.0.1', (c) => c.write(`PROXY ${'1'.repeat(5000)}`));
    assert.ok(!flood.ok && /longer than 107/.test(flood.why), JSON.stringify(flood));
    const started = Date.now();
    const silent = await verdict(trusted, '127.0.0.1', () => {});
    assert.ok(!silent.ok && /in time/.test(silent.why), JSON.stringify(silent));
    assert.ok(Date.now() - started >= 2_000, 'waited the header timeout');
  });

  test('required: false serves a trusted peer without a header, with its first bytes', async () => {
    const optional = { ...trusted, required: false };
    const silent = await verdict(optional, '127.0.0.1', () => {});
    assert.ok(silent.ok && !silent.origin.proxied && silent.origin.address === '127.0.0.1');
    const hello = await verdict(optional, '127.0.0.1', (c) => c.write('\x16\x03\x01\x00\x05hello'));
    assert.ok(hello.ok && !hello.origin.proxied);
    assert.equal(hello.rest.toString('latin1'), '\x16\x03\x01\x00\x05hello');
    const withHeader = await verdict(optional, '127.0.0.1', (c) => c.write(header));
    assert.ok(withHeader.ok && withHeader.origin.proxied);
  });
});
