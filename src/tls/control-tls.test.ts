import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { generateSelfSigned, type KeyPair } from './certificates.js';
import { ControlChannel } from './control-tls.js';

let pair: KeyPair;
before(async () => {
  pair = await generateSelfSigned('localhost');
});

/** A connected pair of channels over real loopback TCP. */
async function channels(): Promise<{ server: ControlChannel; client: ControlChannel; close: () => void }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  const [s] = await accepted;
  listener.close();
  const server = new ControlChannel(s);
  const client = new ControlChannel(c);
  return { server, client, close: () => (c.destroy(), s.destroy()) };
}

function nextData(ch: ControlChannel): Promise<string> {
  return new Promise((resolve) => ch.once('data', (d: Buffer) => resolve(d.toString())));
}

const serverStart = () =>
  ({ role: 'server', secureContext: tls.createSecureContext(pair), handshakeTimeoutMs: 5000 }) as const;
const clientStart = (session?: Buffer) =>
  ({ role: 'client', options: { rejectUnauthorized: false, session }, handshakeTimeoutMs: 5000 }) as const;

test('TLS starts on a plaintext stream, ends (CCC), and the stream continues in clear', async () => {
  const { server, client, close } = await channels();
  try {
    client.write('AUTH TLS\r\n');
    assert.equal(await nextData(server), 'AUTH TLS\r\n');
    await Promise.all([server.startTls(serverStart()), client.startTls(clientStart())]);
    assert.ok(server.secure && client.secure);
    const got = nextData(server);
    client.write('CCC\r\n');
    assert.equal(await got, 'CCC\r\n');
    // Server ends TLS first, as after its 200 reply; the client answers with its own close_notify
    // and at once sends plaintext: both may arrive in one TCP chunk.
    await server.stopTls();
    await client.stopTls();
    const plain = nextData(server);
    client.write('PWD\r\n');
    assert.equal(await plain, 'PWD\r\n');
    assert.equal(server.secure, false);
    const back = nextData(client);
    server.write('257 "/"\r\n');
    assert.equal(await back, '257 "/"\r\n');
  } finally {
    close();
  }
});

test('a TLS session ends and a new handshake follows on the same TCP connection (implicit REIN)', async () => {
  const { server, client, close } = await channels();
  try {
    await Promise.all([server.startTls(serverStart()), client.startTls(clientStart())]);
    const rein = nextData(server);
    client.write('REIN\r\n');
    assert.equal(await rein, 'REIN\r\n');
    const reply = nextData(client);
    server.write('220 Ready\r\n');
    assert.equal(await reply, '220 Ready\r\n');
    // Server: close_notify, then wait for a new ClientHello. Client: close_notify, then ClientHello.
    await server.stopTls();
    const serverAgain = server.startTls(serverStart());
    await client.stopTls();
    await Promise.all([serverAgain, client.startTls(clientStart())]);
    const greeting = nextData(client);
    server.write('220 Again\r\n');
    assert.equal(await greeting, '220 Again\r\n');
    const user = nextData(server);
    client.write('USER x\r\n');
    assert.equal(await user, 'USER x\r\n');
  } finally {
    close();
  }
});

test('garbage instead of a ClientHello fails the handshake with a TLS error', async () => {
  const { server, client, close } = await channels();
  try {
    const failed = assert.rejects(server.startTls(serverStart()), { code: 'ERR_TLS' });
    client.socket.write('GET / HTTP/1.0\r\n\r\n');
    await failed;
  } finally {
    close();
  }
});

/** Counts the system-call writes of a TCP socket (each _write or _writev call is one). */
function countWrites(s: net.Socket): () => number {
  let n = 0;
  const write = s._write.bind(s);
  s._write = (chunk: unknown, enc: BufferEncoding, cb: (err?: Error | null) => void) => {
    n++;
    write(chunk, enc, cb);
  };
  const writev = s._writev?.bind(s);
  if (writev)
    s._writev = (chunks, cb) => {
      n++;
      writev(chunks, cb);
    };
  return () => n;
}

test('writes that belong together leave in one TCP write: the session ticket with the greeting, a reply with the close_notify after it', async () => {
  const { server, client, close } = await channels();
  try {
    const writes = countWrites(server.socket);
    await Promise.all([server.startTls(serverStart()), client.startTls(clientStart())]);
    const greeting = nextData(client);
    server.write('220 Ready\r\n');
    assert.equal(await greeting, '220 Ready\r\n');
    // The handshake's flight, then its session ticket together with the greeting.
    assert.equal(writes(), 2);

    const bye = nextData(client);
    const closeNotify = once(client.tlsSocket as tls.TLSSocket, 'end');
    server.coalesce();
    server.write('221 Bye\r\n');
    await server.stopTls();
    assert.equal(await bye, '221 Bye\r\n');
    await closeNotify;
    assert.equal(writes(), 3);
  } finally {
    close();
  }
});

after(() => {});
