/**
 * A server that offers only TLS 1.0/1.1: the client (TLS 1.2 and up by default) fails with the
 * server's protocol_version alert, and the message says what it means and how to allow it; with
 * --tls-min 1.0 (minTlsVersion) the handshake succeeds.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { FerryError } from '../../src/errors.js';
import { testCertificate } from '../support/ferry.js';

const HINT = '(the server offers only TLS 1.0/1.1: --tls-min 1.0 allows it (weaker))';

describe('a TLS 1.0-only server: the error says --tls-min 1.0 allows it', { timeout: 30_000 }, () => {
  let server: tls.Server;
  let port: number;
  before(async () => {
    const pair = await testCertificate();
    // OpenSSL offers TLS 1.0 only at security level 0.
    server = tls.createServer(
      { ...pair, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
      (s) => {
        s.on('error', () => {});
        s.end('421 bye\r\n');
      },
    );
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server.close());

  const failure = async (extra: Partial<ClientOptions>): Promise<Error> => {
    let error: Error | undefined;
    await assert.rejects(
      FerryClient.connect({
        host: '127.0.0.1',
        port,
        security: 'implicit',
        user: 'u',
        password: 'p',
        insecure: true,
        ...extra,
      }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        error = err;
        return true;
      },
    );
    assert.ok(error);
    return error;
  };

  it('by default: the protocol_version alert, with the hint', async () => {
    const err = await failure({});
    assert.ok(err instanceof FerryError && err.code === 'ERR_TLS', String(err));
    assert.match(err.message, /^TLS handshake failed: .*alert protocol version/);
    assert.ok(err.message.endsWith(HINT), err.message);
    assert.doesNotMatch(err.message, /\n/); // OpenSSL's text ends in a newline: one line all the same
  });

  it('with --tls-min 1.0: the handshake succeeds (the server then says 421)', async () => {
    const err = await failure({ minTlsVersion: 'TLSv1' });
    assert.match(err.message, /421 bye/);
  });
});
