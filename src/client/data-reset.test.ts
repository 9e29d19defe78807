import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { FerryError } from '../errors.js';
import { generateSelfSigned, type KeyPair } from '../tls/certificates.js';
import { giveUp } from './data-reset.js';
import { dataHandshake, startDataTls } from './data-tls.js';
import { failureKind, isTransient } from './errors.js';

/**
 * giveUp() over real loopback sockets: how the server sees the end (reset or FIN), and that the
 * client's TCP socket is always closed for good, whatever state its own end is in. And a data
 * connection's handshake the server ends: its reset is the connection's failure, not TLS's.
 */

let pair: KeyPair;
let server: net.Server;
/** The server side of each accepted connection, in order. */
const accepted: net.Socket[] = [];

before(async () => {
  pair = await generateSelfSigned('localhost');
  server = net.createServer((s) => {
    s.on('error', () => {});
    accepted.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

after(async () => {
  for (const s of accepted) s.destroy();
  server.close();
  await once(server, 'close');
});

/** A client TCP socket and the server's side of it. */
async function connectPair(): Promise<{ raw: net.Socket; peer: net.Socket }> {
  const n = accepted.length;
  const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(raw, 'connect');
  while (accepted.length === n) await once(server, 'connection');
  const peer = accepted[n];
  assert.ok(peer);
  return { raw, peer };
}

/** How the server side of a connection ended: 'ECONNRESET' for a reset, 'end' for a FIN. */
function peerEnd(peer: Duplex): Promise<string> {
  return new Promise((resolve) => {
    peer.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    peer.on('end', () => resolve('end'));
    peer.resume();
  });
}

/** giveUp(), asserting the client's TCP socket emits no error; resolves once that socket closed. */
async function giveUpAndClose(raw: net.Socket, data: Duplex): Promise<void> {
  const errors: string[] = [];
  raw.on('error', (e: NodeJS.ErrnoException) => errors.push(`${e.syscall ?? ''} ${e.code ?? ''}`));
  data.on('error', () => {});
  const closed = once(raw, 'close');
  giveUp(raw, data);
  // A failed reset emits its error at once; waiting for 'close' then would wait for ever.
  assert.deepEqual(errors, []);
  await closed;
}

describe('giveUp', () => {
  it('resets a data connection whose data is not through', async () => {
    const { raw, peer } = await connectPair();
    const ended = peerEnd(peer);
    await giveUpAndClose(raw, raw);
    assert.equal(await ended, 'ECONNRESET');
  });

  it('closes, never resets, a connection whose end is under way (a reset then leaks the socket)', async () => {
    const { raw, peer } = await connectPair();
    const ended = peerEnd(peer);
    raw.end(); // the upload's last bytes are out: its FIN is pending
    await giveUpAndClose(raw, raw);
    assert.equal(await ended, 'end');
  });

  it('resets a TLS data connection through its TLS socket (the TCP socket under it is never reset itself)', async () => {
    const { raw, peer } = await connectPair();
    // TLS 1.2: once both ends are secure, nothing is in flight (no tickets) that could reset by itself.
    const serverTls = new tls.TLSSocket(peer, {
      isServer: true,
      secureContext: tls.createSecureContext({ ...pair, maxVersion: 'TLSv1.2' }),
    });
    const secure = once(serverTls, 'secure');
    const ended = peerEnd(serverTls);
    const data = tls.connect({ socket: raw, rejectUnauthorized: false });
    await Promise.all([once(data, 'secureConnect'), secure]);
    await giveUpAndClose(raw, data);
    assert.equal(data.destroyed, true);
    assert.equal(await ended, 'ECONNRESET');
  });

  // Resetting the TCP socket first, then destroying the TLS socket, was a SIGSEGV (TLSWrap::ClearOut
  // reading a freed BIO) at the first of these, which ended this test's process.
  for (const when of ['as its handshake ends (TLS 1.3 tickets on the way)', 'in its handshake'] as const) {
    it(`gives up a TLS data connection ${when}: the process lives, the TCP socket closes`, async () => {
      const { raw, peer } = await connectPair();
      const serverTls = new tls.TLSSocket(peer, {
        isServer: true,
        secureContext: tls.createSecureContext({ ...pair, minVersion: 'TLSv1.3' }),
      });
      serverTls.on('error', () => {});
      const data = tls.connect({ socket: raw, rejectUnauthorized: false });
      if (when !== 'in its handshake') await once(data, 'secureConnect');
      await giveUpAndClose(raw, data);
      assert.equal(data.destroyed, true);
    });
  }

  it('closes, never resets, a TLS data connection whose close_notify is under way', async () => {
    const { raw, peer } = await connectPair();
    const serverTls = new tls.TLSSocket(peer, {
      isServer: true,
      secureContext: tls.createSecureContext(pair),
    });
    const ended = peerEnd(serverTls);
    const data = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(data, 'secureConnect');
    data.end();
    await giveUpAndClose(raw, data);
    assert.equal(data.destroyed, true);
    assert.equal(await ended, 'end'); // close_notify, then FIN: no reset
  });
});

/** The client's data handshake on `raw` (its TLS from here on): what it fails with. */
async function failedHandshake(raw: net.Socket, options: tls.ConnectionOptions = {}): Promise<FerryError> {
  const sock = startDataTls(raw, options, undefined, false);
  const err = await dataHandshake(raw, sock, 10_000).then(
    () => assert.fail('the handshake succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof FerryError, String(err));
  return err;
}

describe('dataHandshake', () => {
  // A server still busy with the transfer whose reply timed out tears the retry's data connection
  // down so: that was `TLS handshake on the data connection failed: read ECONNRESET`, exit 4, not retried.
  it('reset by the server: a failed data connection (exit 8, retried), not a TLS failure', async () => {
    const { raw, peer } = await connectPair();
    peer.once('data', () => peer.resetAndDestroy()); // the ClientHello came
    const err = await failedHandshake(raw);
    assert.equal(err.code, 'ERR_DATA_CONNECTION', err.message);
    assert.match(err.message, /^The data connection broke during its TLS handshake: .*ECONNRESET/);
    assert.equal(failureKind(err), 'transfer');
    assert.equal(isTransient(err), true);
  });

  it('refused by the TLS layer (an alert): a TLS failure (exit 4), not retried', async () => {
    const { raw, peer } = await connectPair();
    // A TLS 1.2 server for a client that takes 1.3 only: the server answers with an alert.
    const serverTls = new tls.TLSSocket(peer, {
      isServer: true,
      secureContext: tls.createSecureContext({ ...pair, maxVersion: 'TLSv1.2' }),
    });
    serverTls.on('error', () => {});
    const err = await failedHandshake(raw, { minVersion: 'TLSv1.3' });
    assert.equal(err.code, 'ERR_TLS', err.message);
    assert.equal(failureKind(err), 'tls');
    assert.equal(isTransient(err), false);
  });
});
