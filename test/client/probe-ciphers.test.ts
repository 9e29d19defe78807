/**
 * `ferry probe`'s cipher and ALPN points against Node TLS servers speaking implicit FTPS (a greeting
 * after the handshake): whether the server or the client chooses the suite (cipher-order; the list
 * is "in the server's order" only when there is one), suites without forward secrecy or with
 * CCM_8's short tag flagged with the reason, and a server that completes a handshake offering only
 * HTTP's ALPN names (ALPACA) told from one that refuses it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';

import { ProbeState, type ProbeTarget } from '../../src/client/probe/connection.js';
import { alpn, cipherPoints } from '../../src/client/probe/tls.js';
import type { ProbePoint } from '../../src/client/probe/types.js';
import { generateSelfSigned, type KeyPair } from '../../src/tls/certificates.js';

const ECDHE_256 = 'ECDHE-RSA-AES256-GCM-SHA384';
const RSA_128 = 'AES128-GCM-SHA256';

describe('ferry probe: cipher order, weak suites and ALPN', { timeout: 60_000 }, () => {
  let pair: KeyPair;
  const servers: tls.Server[] = [];
  before(async () => {
    pair = await generateSelfSigned('localhost', 'rsa');
  });
  after(() => {
    for (const s of servers) s.close();
  });

  /** An implicit FTPS server (greeting only) with these TLS options; the probe's target for it. */
  async function target(o: tls.TlsOptions): Promise<ProbeTarget> {
    const server = tls.createServer({ ...pair, ...o }, (s) => {
      s.on('error', () => {});
      s.write('220 hi\r\n');
    });
    server.on('tlsClientError', () => {});
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      host: '127.0.0.1',
      port: (server.address() as net.AddressInfo).port,
      security: 'implicit',
      user: 'u',
      password: 'p',
      servername: undefined,
      ca: undefined,
      trust: undefined,
      timeoutMs: 5000,
      log: undefined,
      state: new ProbeState(),
    };
  }

  async function points(o: tls.TlsOptions, v: 'TLSv1.2' | 'TLSv1.3'): Promise<Record<string, ProbePoint>> {
    const list = await cipherPoints(await target(o), [v]);
    return Object.fromEntries(list.map((p) => [p.id, p]));
  }

  it('the server chooses, forward secrecy first: pass; a suite without it is flagged', async () => {
    const p = await points({ ciphers: `${ECDHE_256}:${RSA_128}`, honorCipherOrder: true }, 'TLSv1.2');
    assert.equal(p['cipher-order']?.verdict, 'pass', p['cipher-order']?.detail);
    assert.equal(p['cipher-order']?.received, "TLS 1.2: the server's");
    const list = p['ciphers-1.2'];
    assert.equal(list?.received, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_RSA_WITH_AES_128_GCM_SHA256');
    assert.equal(list?.verdict, 'fail');
    assert.equal(list?.detail, 'weak: TLS_RSA_WITH_AES_128_GCM_SHA256 (no forward secrecy)');
  });

  it('the server prefers a suite without forward secrecy: cipher-order fails', async () => {
    const p = await points({ ciphers: `${RSA_128}:${ECDHE_256}`, honorCipherOrder: true }, 'TLSv1.2');
    assert.equal(p['cipher-order']?.verdict, 'fail');
    assert.match(
      p['cipher-order']?.detail ?? '',
      /first choice TLS_RSA_WITH_AES_128_GCM_SHA256 \(no forward/,
    );
    assert.equal(
      p['ciphers-1.2']?.received,
      'TLS_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    );
  });

  // Node's TLS server has its order by default: honorCipherOrder false is the server without one.
  it('the client chooses: no server order, the list by name, and weak suites a client may pick fail', async () => {
    const p = await points({ ciphers: `${ECDHE_256}:${RSA_128}`, honorCipherOrder: false }, 'TLSv1.2');
    assert.equal(p['cipher-order']?.received, "TLS 1.2: the client's");
    assert.equal(p['cipher-order']?.verdict, 'fail');
    assert.match(
      p['cipher-order']?.detail ?? '',
      /a client preferring TLS_RSA_WITH_AES_128_GCM_SHA256 gets it/,
    );
    assert.equal(
      p['ciphers-1.2']?.received,
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_RSA_WITH_AES_128_GCM_SHA256',
    );
    assert.match(
      p['ciphers-1.2']?.detail ?? '',
      /; not in the server's order \(see cipher-order\): listed by name$/,
    );

    const strong = await points(
      { ciphers: `ECDHE-RSA-AES128-GCM-SHA256:${ECDHE_256}`, honorCipherOrder: false },
      'TLSv1.2',
    );
    assert.equal(strong['cipher-order']?.verdict, 'not-supported');
    assert.equal(strong['ciphers-1.2']?.verdict, 'pass');
  });

  it('TLS 1.3 with CCM_8: flagged for its short tag', async () => {
    const p = await points(
      { ciphers: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_8_SHA256', honorCipherOrder: true },
      'TLSv1.3',
    );
    assert.equal(p['ciphers-1.3']?.received, 'TLS_AES_256_GCM_SHA384 TLS_AES_128_CCM_8_SHA256');
    assert.equal(p['ciphers-1.3']?.verdict, 'fail');
    assert.equal(p['ciphers-1.3']?.detail, 'weak: TLS_AES_128_CCM_8_SHA256 (CCM_8: 64-bit tag)');
    assert.equal(p['cipher-order']?.verdict, 'pass');
  });

  it('ALPN: refused with no_application_protocol passes; a completed handshake fails', async () => {
    const refused = await alpn(await target({ ALPNProtocols: ['ftp'] }));
    assert.equal(refused.verdict, 'pass', refused.received);
    assert.equal(refused.received, 'refused: no_application_protocol alert');
    const taken = await alpn(await target({}));
    assert.equal(taken.verdict, 'fail');
    assert.equal(taken.received, 'handshake completed; ALPN none selected');
    assert.match(taken.detail ?? '', /ALPACA/);
  });
});
