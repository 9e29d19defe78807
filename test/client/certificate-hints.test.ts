/**
 * What a refused server certificate's message tells the user. One the CAs vouch for, but with
 * other host names or past its dates, was "not trusted" with no more said, even with the right
 * --ca: the message gives its names or its dates (as curl does), and no --ca hint. One no CA
 * vouches for gets that hint; a leaf sent without its intermediate says the chain may be incomplete.
 * A key below OpenSSL security level 2 (RSA-1024) is refused, as Debian's curl does, even pinned,
 * saying how to allow it (--tls-min 1.0, which lowers the level).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { CertificateError } from '../../src/client/errors.js';
import { generateSelfSigned, type KeyPair } from '../../src/tls/certificates.js';
import { issuedBy, rsaServer, testCa } from '../support/client-certs.js';
import { testCertificate } from '../support/ferry.js';

const DAY = 86_400_000;

describe('a refused server certificate: the message says why', { timeout: 30_000 }, () => {
  const servers: tls.Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  /** An implicit FTPS greeting with this certificate; the client gives up after the handshake. */
  async function serve(pair: KeyPair): Promise<number> {
    const server = tls.createServer(pair, (s) => {
      s.on('error', () => {});
      s.end('220 hi\r\n');
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  }

  const connect = (port: number, extra: Partial<ClientOptions>): Promise<FerryClient> =>
    FerryClient.connect({
      host: '127.0.0.1',
      port,
      security: 'implicit',
      user: 'u',
      password: 'p',
      ...extra,
    });

  async function refusal(
    port: number,
    extra: Partial<ClientOptions>,
    problem = 'untrusted',
  ): Promise<string> {
    let message = '';
    await assert.rejects(connect(port, extra), (err: unknown) => {
      assert.ok(err instanceof CertificateError, String(err));
      assert.equal(err.problem, problem);
      message = err.message;
      return true;
    });
    return message;
  }

  it('another host name: the names the certificate has, no --ca hint', async () => {
    const pair = await testCertificate();
    const port = await serve(pair);
    const m = await refusal(port, { ca: pair.cert, servername: 'ftp.example.com' });
    assert.match(m, /its names: DNS:localhost, IP Address:127\.0\.0\.1, .* \(not ftp\.example\.com\)\n/);
    assert.doesNotMatch(m, /--ca/);
  });

  it('expired: when, no --ca hint', async () => {
    const notAfter = new Date(Date.UTC(2024, 0, 2));
    const pair = await generateSelfSigned('localhost', 'ecdsa', {
      notBefore: new Date(notAfter.getTime() - 30 * DAY),
      notAfter,
    });
    const m = await refusal(await serve(pair), { ca: pair.cert });
    assert.match(m, /expired on: Jan {2}2 00:00:00 2024 GMT\n/);
    assert.doesNotMatch(m, /--ca/);
  });

  it('no CA vouches for it: pass --ca', async () => {
    const m = await refusal(await serve(await testCertificate()), {});
    assert.match(m, /is not trusted \(self-signed: DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    assert.doesNotMatch(m, /its names|expired on/);
    assert.match(m, /Pass --ca FILE with its CA/);
  });

  it('a leaf sent without its intermediate: maybe an incomplete chain', async () => {
    const root = await testCa('Hints Root');
    const leaf = await issuedBy(await issuedBy(root, 'Hints Int', { asCa: true }), 'localhost', {
      serverNames: ['localhost', '127.0.0.1'],
    });
    const alone = {
      cert: leaf.cert.slice(0, leaf.cert.indexOf('-----END CERTIFICATE-----') + 26),
      key: leaf.key,
    };
    const m = await refusal(await serve(alone), { ca: root.cert });
    assert.match(
      m,
      /\(issued by an unknown CA, or the chain is incomplete \(the server sent no intermediate\): UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    );
  });

  it('an RSA-1024 key: refused even pinned, saying how to allow it', async () => {
    const weak = await rsaServer(['localhost', '127.0.0.1'], 1024);
    const port = await serve(weak);
    const m = await refusal(port, { ca: weak.cert }, 'weak-key');
    assert.match(m, /has a key too weak \(rsa 1024 bits\): OpenSSL security level 2 needs 2048 bits for RSA/);
    assert.match(m, /--tls-min 1\.0 allows it/);
    await refusal(port, { fingerprints: [weak.fingerprint] }, 'weak-key');
    // Allowed with TLS 1.0 permitted: the connection goes on to the login (this server has none).
    await assert.rejects(connect(port, { ca: weak.cert, minTlsVersion: 'TLSv1' }), (err: unknown) => {
      assert.ok(!(err instanceof CertificateError), String(err));
      return true;
    });
    const strong = await rsaServer(['localhost', '127.0.0.1'], 2048);
    await assert.rejects(connect(await serve(strong), { ca: strong.cert }), (err: unknown) => {
      assert.ok(!(err instanceof CertificateError), String(err));
      return true;
    });
  });
});
