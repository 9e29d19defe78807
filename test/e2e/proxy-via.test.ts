/**
 * The `connect` line of a session that came through a trusted proxy names the proxy as `via`. On a
 * dual-stack listener (`::`, the default) a proxy reaching it over IPv4 is seen as
 * `::ffff:10.0.1.10`: `via` said so, while every other field (`remote`, the bans, the limits) writes
 * IPv4-mapped addresses as IPv4. It is normalized now, as they are.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProxyV1 } from '../../src/protocol/proxy-protocol.js';
import { RawFtp } from '../support/raw-ftp.js';
import { useFerry, waitForLog, withClients } from './harness.js';

describe('PROXY protocol on a dual-stack listener', () => {
  const server = useFerry({
    explicit: { host: '::', port: 0 },
    proxyProtocol: { trusted: ['127.0.0.1/32'], required: true },
  });

  test("the connect line's via is the proxy's IPv4 address, not its IPv4-mapped form", async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await RawFtp.connect({ host: '127.0.0.1', port: ts.explicitPort, implicit: false }));
      ftp.socket.write(
        formatProxyV1({ address: '192.0.2.44', port: 5555 }, { address: '198.51.100.2', port: 21 }),
      );
      await ftp.expect(220);
      const line = await waitForLog(ts, (l) => l.msg === 'connect');
      const obj = line.obj as { remote?: string; via?: string };
      assert.deepEqual({ remote: obj.remote, via: obj.via }, { remote: '192.0.2.44', via: '127.0.0.1' });
    });
  });
});
