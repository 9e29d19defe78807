import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { before, describe, test } from 'node:test';
import { constants } from 'node:crypto';
import { generateSelfSigned } from './certificates.js';
import { offeredSessions } from './client-hello.js';

/** The bytes Node's TLS client sends first (its ClientHello), offering `session` if given. */
async function clientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const wire = new Duplex({ read() {}, write: (chunk: Buffer, _e, cb) => (sent(chunk), cb()) });
  let sent!: (b: Buffer) => void;
  const first = new Promise<Buffer>((resolve) => (sent = resolve));
  const c = tls.connect({ ...options, socket: wire, rejectUnauthorized: false });
  c.on('error', () => {});
  const hello = await first;
  c.destroy();
  return hello;
}

/** A real server with stateful sessions: returns a session the client got and the ID the server gave it. */
async function issuedSession(maxVersion: tls.SecureVersion): Promise<{ session: Buffer; ids: string[] }> {
  const pair = await generateSelfSigned('localhost', 'ecdsa');
  const context = tls.createSecureContext({ ...pair, secureOptions: constants.SSL_OP_NO_TICKET });
  const ids: string[] = [];
  const hub = new net.Server();
  hub.on(
    'newSession',
    (id: Buffer, _data: Buffer, done: () => void) => (ids.push(id.toString('hex')), done()),
  );
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext: context, server: hub });
    s.on('error', () => {});
    s.on('secure', () => s.end('x'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion });
  const sessions: Buffer[] = [];
  c.on('session', (s: Buffer) => sessions.push(s));
  c.resume();
  await once(c, 'end');
  c.destroy();
  server.close();
  const session = sessions.at(-1);
  assert.ok(session, 'the client got a session');
  return { session, ids };
}

describe('offeredSessions (ClientHello session identities)', () => {
  let tls13: { session: Buffer; ids: string[] };
  let tls12: { session: Buffer; ids: string[] };
  before(async () => {
    tls13 = await issuedSession('TLSv1.3');
    tls12 = await issuedSession('TLSv1.2');
  });

  test('a fresh TLS 1.3 ClientHello: a 32-byte legacy session ID (compatibility mode), no PSK', async () => {
    const o = offeredSessions(await clientHello({}));
    assert.ok(o);
    assert.equal(o.sessionId.length, 32);
    assert.deepEqual(o.pskIdentities, []);
  });

  test('resuming a TLS 1.3 stateful ticket: the PSK identity is the session ID the server issued', async () => {
    const o = offeredSessions(await clientHello({ session: tls13.session }));
    assert.ok(o);
    assert.equal(o.pskIdentities.length, 1);
    assert.ok(tls13.ids.includes(o.pskIdentities[0]?.toString('hex') ?? ''), 'identity is an issued ID');
  });

  test('resuming a TLS 1.2 session: the legacy session ID is the issued one', async () => {
    const o = offeredSessions(await clientHello({ session: tls12.session, maxVersion: 'TLSv1.2' }));
    assert.ok(o);
    assert.ok(tls12.ids.includes(o.sessionId.toString('hex')));
  });

  test('incomplete, split or foreign bytes', async () => {
    const hello = await clientHello({ session: tls13.session });
    assert.equal(offeredSessions(hello.subarray(0, hello.length - 1)), undefined, 'incomplete');
    assert.equal(offeredSessions(Buffer.from('USER anonymous\r\n')), undefined, 'not TLS');
    // The same handshake message cut into two records.
    const msg = hello.subarray(5);
    const cut = 100;
    const record = (b: Buffer): Buffer =>
      Buffer.concat([Buffer.from([22, 3, 1, b.length >> 8, b.length & 255]), b]);
    const split = offeredSessions(Buffer.concat([record(msg.subarray(0, cut)), record(msg.subarray(cut))]));
    assert.deepEqual(split, offeredSessions(hello));
  });
});
