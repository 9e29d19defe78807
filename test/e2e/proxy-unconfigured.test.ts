/**
 * A PROXY header (v1 or v2) sent to a listener without `proxyProtocol` (a balancer's send-proxy
 * aimed at a node not configured for it): the connection is closed with one warning that says
 * so, instead of "500 Empty command." (explicit) or a bare TLS failure (implicit).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';
import { withDeadline } from '../support/raw-ftp.js';
import { loggedIn, MODES, portOf, useFerry, waitForLog, type Mode } from './harness.js';

const HOST = '127.0.0.1';
const CLIENT = { address: '192.0.2.9', port: 1234 };
const SERVER = { address: HOST, port: 21 };

/** What HAProxy's send-proxy-v2 sends for a TCP4 client: signature, PROXY, TCP4, the addresses. */
function proxyV2(): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const body = Buffer.from([192, 0, 2, 9, 127, 0, 0, 1, 0x04, 0xd2, 0x00, 0x15]);
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, body.length]), body]);
}

const HEADERS = { v1: formatProxyV1(CLIENT, SERVER), v2: proxyV2() };

/** Sends `header` first (after the greeting on explicit), as a proxy would; what came until close. */
async function sendHeader(port: number, header: Buffer, mode: Mode): Promise<string> {
  const socket = net.connect({ host: HOST, port });
  const chunks: Buffer[] = [];
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    if (mode === 'explicit' && chunks.length === 1) socket.write(header);
  });
  if (mode === 'implicit') socket.write(header);
  await withDeadline(closed, 10_000, 'the server to close the connection');
  return Buffer.concat(chunks).toString('latin1');
}

describe('a PROXY header on a listener without proxyProtocol', () => {
  const server = useFerry();

  for (const mode of MODES) {
    for (const [version, header] of Object.entries(HEADERS)) {
      test(`${mode}, PROXY ${version}: closed, with one warning that says why`, async () => {
        const ts = server();
        const from = ts.logs.length;
        const got = await sendHeader(portOf(ts, mode), header, mode);
        const line = await waitForLog(ts, (l) => /PROXY protocol header arrived/.test(l.msg), from);
        assert.equal(
          line.msg,
          'connection refused: a PROXY protocol header arrived but proxyProtocol is not configured for this listener (set proxyProtocol.trusted to the balancer’s address, or stop it sending one)',
        );
        assert.equal(line.level, 'warn');
        if (mode === 'explicit') assert.match(got, /^220 [^\n]*\r\n$/, 'the greeting, then nothing');
        else assert.equal(got, '');
        const after = ts.logs.slice(from);
        assert.ok(!after.some((l) => /TLS handshake failed/.test(l.msg)), 'no TLS failure logged besides');
      });
    }
    test(`${mode}: a client that sends no header is served as before`, async () => {
      const ftp = await loggedIn(server(), mode);
      await ftp.cmd('PWD', 257);
      await ftp.close();
    });
  }
});
