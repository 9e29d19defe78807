/**
 * A client on the wrong port gets the admin a log line naming the mistake and the right port: an
 * implicit-FTPS client's ClientHello on the explicit port (closed at once, not left to a timeout),
 * a plain-FTP command on the implicit port, and a client that waits there for a greeting in clear.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { describe, test } from 'node:test';
import { useFerry, waitForLog } from './harness.js';
import type { TestServer } from '../support/ferry.js';

/** The ClientHello Node's TLS client sends first (written to a stream that answers nothing). */
async function clientHello(): Promise<Buffer> {
  let sent: (b: Buffer) => void = () => {};
  const first = new Promise<Buffer>((resolve) => (sent = resolve));
  const pipe = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      sent(chunk);
      cb();
    },
  });
  const t = tls.connect({ socket: pipe, servername: 'localhost', rejectUnauthorized: false });
  t.on('error', () => {});
  const hello = await first;
  t.destroy();
  pipe.destroy();
  return hello;
}

/** A TCP connection to `port`, its received bytes gathered, closed by the server (or the test's end). */
async function rawConnect(ts: TestServer, port: number): Promise<{ socket: net.Socket; got: Buffer[] }> {
  const socket = net.connect({ host: ts.host, port });
  await once(socket, 'connect');
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  socket.on('error', () => {});
  return { socket, got };
}

/** Long timeouts: what closes these connections is the server seeing the mistake, not a timer. */
const PATIENT = { timeouts: { handshakeMs: 600_000, loginMs: 600_000, idleMs: 600_000 } };

describe('a client on the wrong port', { timeout: 60_000 }, () => {
  const server = useFerry(PATIENT);

  test('a ClientHello on the explicit port: one line naming implicit FTPS and its port, then closed', async () => {
    const ts = server();
    const from = ts.logs.length;
    const { socket, got } = await rawConnect(ts, ts.explicitPort);
    const closed = once(socket, 'close');
    await once(socket, 'data'); // the 220 greeting, in clear
    socket.write(await clientHello());
    const line = await waitForLog(ts, (l) => l.msg.startsWith('TLS ClientHello'), from);
    assert.equal(
      line.msg,
      `TLS ClientHello on the explicit port ${ts.explicitPort}: this client wants implicit FTPS (port ${ts.implicitPort}); closing`,
    );
    assert.equal(line.level, 'warn');
    await closed;
    assert.match(Buffer.concat(got).toString('latin1'), /^220 /);
  });

  test('a plain FTP command on the implicit port: one line naming the explicit port, then closed', async () => {
    const ts = server();
    const from = ts.logs.length;
    const { socket } = await rawConnect(ts, ts.implicitPort);
    const closed = once(socket, 'close');
    socket.write('USER alice\r\n');
    const line = await waitForLog(ts, (l) => l.msg.startsWith('plain FTP'), from);
    assert.equal(
      line.msg,
      `plain FTP (no TLS) on the implicit port ${ts.implicitPort}: use the explicit port ${ts.explicitPort} with AUTH TLS`,
    );
    await closed;
    const raw = ts.logs.slice(from).filter((l) => l.msg === 'control connection TLS handshake failed');
    assert.deepEqual(raw, [], 'the raw OpenSSL error is not logged as well');
  });
});

describe('a client waiting for a greeting on the implicit port', { timeout: 60_000 }, () => {
  const server = useFerry({ timeouts: { handshakeMs: 300 } });

  test('at the handshake timeout: one line saying what it likely is and naming the explicit port', async () => {
    const ts = server();
    const from = ts.logs.length;
    const { socket } = await rawConnect(ts, ts.implicitPort);
    const closed = once(socket, 'close');
    const line = await waitForLog(ts, (l) => l.msg.startsWith('no TLS ClientHello'), from);
    assert.equal(
      line.msg,
      `no TLS ClientHello on the implicit port ${ts.implicitPort} within 0.3 s: a plain FTP or explicit FTPS client waits here for a greeting that never comes; use the explicit port ${ts.explicitPort} with AUTH TLS`,
    );
    await closed;
  });
});
