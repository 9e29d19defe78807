import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { before, describe, test } from 'node:test';
import { constants } from 'node:crypto';
import { generateSelfSigned } from './certificates.js';
import { notResumedBecause, offeredNoSession, offeredSessions } from './client-hello.js';

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

describe('notResumedBecause (the log line of a refused data connection)', () => {
  const id = Buffer.alloc(32, 7);
  test('names what was offered, and what makes such a client work', () => {
    const none = { sessionId: id, pskIdentities: [], ticket: false };
    assert.match(notResumedBecause(none, 'TLSv1.3'), /no TLS session \(a full handshake\)/);
    const foreign = { sessionId: id, pskIdentities: [id], ticket: false };
    assert.match(notResumedBecause(foreign, 'TLSv1.3'), /did not issue.*rclone.*--no-require-reuse/);
    // Ruby's Net::FTP clears OpenSSL's middlebox-compatibility option: no legacy session ID.
    const ruby = { sessionId: Buffer.alloc(0), pskIdentities: [id], ticket: false };
    assert.match(notResumedBecause(ruby, 'TLSv1.3'), /without a legacy session ID.*MIDDLEBOX_COMPAT/);
    const goTls12 = { sessionId: Buffer.alloc(0), pskIdentities: [], ticket: true };
    assert.match(notResumedBecause(goTls12, 'TLSv1.2'), /TLS 1\.2 session ticket/);
    assert.match(notResumedBecause({ ...none, sessionId: id }, 'TLSv1.2'), /did not issue/);
    assert.match(notResumedBecause({ ...none, sessionId: Buffer.alloc(0) }, 'TLSv1.2'), /no TLS session/);
    assert.match(notResumedBecause(undefined, 'TLSv1.3'), /could not be read/);
  });

  test('offeredNoSession: a client that cannot resume, not one that offered a wrong session', () => {
    const none = { sessionId: id, pskIdentities: [], ticket: false };
    // TLS 1.3's legacy session ID is random (middlebox compatibility): it names no session.
    assert.equal(offeredNoSession(none, 'TLSv1.3'), true);
    assert.equal(offeredNoSession({ ...none, sessionId: Buffer.alloc(0) }, 'TLSv1.2'), true);
    assert.equal(offeredNoSession(none, 'TLSv1.2'), false, 'a TLS 1.2 session ID');
    assert.equal(offeredNoSession({ ...none, pskIdentities: [id] }, 'TLSv1.3'), false, 'a TLS 1.3 ticket');
    assert.equal(offeredNoSession({ ...none, ticket: true }, 'TLSv1.3'), false, 'a TLS 1.2 ticket');
    assert.equal(offeredNoSession(undefined, 'TLSv1.3'), false, 'an unreadable ClientHello');
  });

  test('a TLS 1.2 ClientHello offering a session ticket (Go clients resume only so) is seen as one', async () => {
    const pair = await generateSelfSigned('localhost', 'ecdsa');
    const server = tls.createServer({ ...pair, maxVersion: 'TLSv1.2' }, (s) => s.end('x'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    c.resume();
    await once(c, 'end');
    const session = c.getSession();
    c.destroy();
    server.close();
    assert.ok(session);
    const o = offeredSessions(await clientHello({ session, maxVersion: 'TLSv1.2' }));
    assert.equal(o?.ticket, true);
    const fresh = offeredSessions(await clientHello({ maxVersion: 'TLSv1.2' }));
    assert.equal(fresh?.ticket, false);
  });
});
