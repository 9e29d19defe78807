/**
 * connectTimeoutMs bounds connecting as a whole: the TCP connection, implicit FTPS's TLS handshake
 * and the server's greeting. A server that accepts and then says nothing fails connect() with a
 * ConnectionError ERR_TIMEOUT when it runs out, whatever the reply and handshake timeouts (set to
 * ten minutes here, so only connectTimeoutMs can end the attempt; the test's own timeout catches a
 * hang). A refused connection is a ConnectionError ERR_CONNECT with the system's code, and a reply
 * missing after the greeting (AUTH TLS unanswered) a ConnectionError ERR_TIMEOUT too.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { ConnectionError } from '../../src/client/errors.js';
import { EXIT, exitCodeFor } from '../../src/cli/client-exit-codes.js';
import { testCertificate } from '../support/ferry.js';

const HUGE = 10 * 60_000;
const LIMIT = 400;

/** A server that accepts connections (TLS first for `tls`) and never writes a byte. */
async function silentServer(kind: 'tcp' | 'tls'): Promise<net.Server> {
  const sockets: net.Socket[] = [];
  const keep = (s: net.Socket): void => {
    s.on('error', () => {});
    sockets.push(s);
  };
  const server = kind === 'tls' ? tls.createServer(await testCertificate(), keep) : net.createServer(keep);
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function options(server: net.Server, security: 'explicit' | 'implicit'): ClientOptions {
  return {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    security,
    user: 'alice',
    password: 'secret',
    insecure: true,
    connectTimeoutMs: LIMIT,
    handshakeTimeoutMs: HUGE,
    replyTimeoutMs: HUGE,
  };
}

/** connect() fails with a ConnectionError ERR_TIMEOUT saying `text`, after about LIMIT ms. */
async function timesOut(o: ClientOptions, text: string): Promise<void> {
  const started = Date.now();
  await assert.rejects(FerryClient.connect(o), (err: unknown) => {
    assert.ok(err instanceof ConnectionError, String(err));
    assert.equal(err.code, 'ERR_TIMEOUT');
    assert.ok(err.message.includes(text), err.message);
    assert.equal(exitCodeFor(err), EXIT.connection);
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took >= LIMIT - 50 && took < LIMIT + 5_000, `connect() failed after ${took} ms`);
}

describe('connectTimeoutMs bounds connecting up to the greeting', () => {
  const servers: net.Server[] = [];
  let tcp: net.Server;
  let secure: net.Server;
  before(async () => {
    servers.push((tcp = await silentServer('tcp')), (secure = await silentServer('tls')));
  });
  after(() => servers.forEach((s) => s.close()));

  it(
    'explicit: no greeting (was the reply timeout, 30 s by default, and not a ConnectionError)',
    { timeout: 10_000 },
    async () => {
      await timesOut(
        options(tcp, 'explicit'),
        `No greeting from 127.0.0.1:${(tcp.address() as net.AddressInfo).port} within ${LIMIT} ms (connectTimeoutMs); if the server uses implicit FTPS, use ftps://.`,
      );
    },
  );

  it('implicit: no TLS handshake (was handshakeTimeoutMs, as ERR_TLS)', { timeout: 10_000 }, async () => {
    await timesOut(options(tcp, 'implicit'), `no TLS handshake within ${LIMIT} ms (connectTimeoutMs)`);
  });

  it('implicit: the TLS handshake, then no greeting', { timeout: 10_000 }, async () => {
    await timesOut(options(secure, 'implicit'), `within ${LIMIT} ms (connectTimeoutMs).`);
  });

  it(
    'explicit: the greeting, then no reply to AUTH TLS within replyTimeoutMs',
    { timeout: 10_000 },
    async () => {
      // Greets, then reads and answers nothing (was a plain FerryError, not a ConnectionError).
      const mute = net.createServer((s) => {
        s.on('error', () => {});
        s.write('220 hello\r\n');
        s.resume();
      });
      servers.push(mute);
      mute.listen(0, '127.0.0.1');
      await once(mute, 'listening');
      const port = (mute.address() as net.AddressInfo).port;
      await assert.rejects(
        FerryClient.connect({ ...options(mute, 'explicit'), connectTimeoutMs: HUGE, replyTimeoutMs: LIMIT }),
        (err: unknown) => {
          assert.ok(err instanceof ConnectionError, String(err));
          assert.equal(err.code, 'ERR_TIMEOUT');
          assert.equal(err.message, `No reply from 127.0.0.1:${port} within ${LIMIT} ms; connection closed.`);
          assert.equal(exitCodeFor(err), EXIT.connection);
          return true;
        },
      );
    },
  );

  it(
    'a refused connection: ERR_CONNECT with the system code (was ERR_CLOSED)',
    { timeout: 10_000 },
    async () => {
      const closed = net.createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const port = (closed.address() as net.AddressInfo).port;
      closed.close();
      await once(closed, 'close');
      await assert.rejects(FerryClient.connect({ ...options(tcp, 'explicit'), port }), (err: unknown) => {
        assert.ok(err instanceof ConnectionError, String(err));
        assert.equal(err.code, 'ERR_CONNECT');
        assert.equal(err.systemCode, 'ECONNREFUSED');
        assert.equal(exitCodeFor(err), EXIT.connection);
        return true;
      });
    },
  );
});
