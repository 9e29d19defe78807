/**
 * Behind a trusted PROXY-protocol proxy, a session that came without a client address (no header
 * under `required: false`, or v1 UNKNOWN) has the proxy's address, shared by every client behind
 * it: PORT/EPRT there would reach the proxy host's ports. Refused; a proxied client's own is not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';
import { RawFtp } from '../support/raw-ftp.js';
import { textOf, useFerry, withClients } from './harness.js';
import type { TestServer } from '../support/ferry.js';

/** Logged in over explicit FTPS from 127.0.0.1 (the trusted proxy), after `header` if any. */
async function through(ts: TestServer, header?: Buffer): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: ts.host, port: ts.explicitPort, implicit: false });
  if (header) ftp.socket.write(header);
  await ftp.expect(220);
  assert.equal((await ftp.authTls('TLS')).code, 234);
  await ftp.login(ts.user, ts.password);
  await ftp.cmd('PBSZ 0', 200);
  await ftp.cmd('PROT P', 200);
  return ftp;
}

describe('PORT/EPRT from a trusted proxy speaking for itself', { timeout: 60_000 }, () => {
  const server = useFerry({ proxyProtocol: { trusted: ['127.0.0.1/32'], required: false } });

  const selfHeaders = { 'no header': undefined, 'PROXY UNKNOWN': Buffer.from('PROXY UNKNOWN\r\n') };
  for (const [how, header] of Object.entries(selfHeaders)) {
    test(`${how}: PORT and EPRT to the proxy's address are refused (504)`, async () => {
      await withClients(async (track) => {
        const ftp = track(await through(server(), header));
        for (const line of ['PORT 127,0,0,1,195,80', 'EPRT |1|127.0.0.1|50000|']) {
          const r = await ftp.cmd(line, 504);
          assert.match(textOf(r), /proxy that did not name its client/, line);
        }
        await ftp.cmd('LIST', 425); // no endpoint was left behind
      });
    });
  }

  test('a client its PROXY header names may still use active mode to itself', async () => {
    await withClients(async (track) => {
      const header = formatProxyV1(
        { address: '127.0.0.1', port: 40_000 },
        { address: '127.0.0.1', port: 21 },
      );
      const ftp = track(await through(server(), header));
      await ftp.cmd('PORT 127,0,0,1,195,80', 200);
    });
  });
});
