import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { generateSelfSigned } from './certificates.js';
import { readClientHello } from './hello-capture.js';
import { SessionFamily } from './session-cache.js';

const HELLO_MS = 5_000;

/** One family over real TLS 1.3: a control listener (issues sessions) and a data listener (resumes them). */
let family: SessionFamily;
let controlPort: number;
let dataPort: number;
const listeners: net.Server[] = [];

async function listen(onConnection: (raw: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection);
  listeners.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

before(async () => {
  const pair = await generateSelfSigned('localhost', 'ecdsa');
  // As Ferry's session context: stateful sessions only, so each resumes from the family's store.
  const context = tls.createSecureContext({
    ...pair,
    sessionIdContext: 'test',
    secureOptions: constants.SSL_OP_NO_TICKET,
  });
  family = new SessionFamily(context);
  controlPort = await listen((raw) => {
    const sock = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      server: family.controlHub(),
    });
    sock.on('error', () => {}); // the client ends it once it has a session
  });
  // What data-connection.ts does: read the ClientHello, handshake, join the family only if resumed.
  dataPort = await listen((raw) => {
    raw.on('error', () => {});
    void readClientHello(raw, HELLO_MS).then((bytes) => {
      const sessions = family.dataHub(() => bytes);
      const sock = new tls.TLSSocket(raw, { isServer: true, secureContext: context, server: sessions.hub });
      sock.on('error', () => {});
      sock.on('secure', () => {
        const resumed = sock.isSessionReused();
        sessions.settle(resumed);
        if (!resumed) sock.end(); // refused; else the client ends it once it has its session
      });
    });
  });
});

after(() => {
  for (const l of listeners) l.close();
});

/**
 * Connects offering `session`, and ends once issued a session (or once the server ends a refused
 * connection). Whether it resumed, and the sessions it was issued.
 */
async function connect(port: number, session?: Buffer): Promise<{ resumed: boolean; issued: Buffer[] }> {
  const c = tls.connect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    session,
    maxVersion: 'TLSv1.3',
  });
  c.on('error', () => {});
  const issued: Buffer[] = [];
  const ticket = new Promise((resolve) => c.on('session', (s: Buffer) => resolve(issued.push(s))));
  const closed = once(c, 'close');
  await once(c, 'secureConnect');
  const resumed = c.isSessionReused();
  c.resume();
  await Promise.race([ticket, closed]);
  c.end();
  await closed;
  return { resumed, issued };
}

test('a data session resumed again and again stays resumable while each resumption adds a session; unused ones are evicted', async () => {
  const control = (await connect(controlPort)).issued.at(-1);
  assert.ok(control, 'the control connection issued a session');
  // A download: the client keeps its ticket T, the newest it holds.
  const download = await connect(dataPort, control);
  assert.equal(download.resumed, true);
  const t = download.issued.at(-1);
  assert.ok(t, 'the download issued a session');
  // Uploads offering T each time; each makes the family keep a fresh session the client never uses.
  const unused: Buffer[] = [];
  for (let i = 1; i <= 20; i++) {
    const upload = await connect(dataPort, t);
    assert.equal(upload.resumed, true, `upload ${i} resumed T`);
    unused.push(...upload.issued);
  }
  // The store stays bounded: the first upload's session, never offered, was evicted long ago.
  assert.ok(unused[0]);
  assert.equal((await connect(dataPort, unused[0])).resumed, false, 'an old unused session is gone');
});
