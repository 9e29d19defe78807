/**
 * A server that offers only TLS 1.0/1.1: the client (TLS 1.2 and up by default) fails with the
 * server's protocol_version alert, and the message says what it means and how to allow it; with
 * --tls-min 1.0 (minTlsVersion) the handshake succeeds. A server whose highest is TLS 1.2 asked
 * for --tls-min 1.3 gets the same alert: the hint then points to the default, never below it.
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

/** A TLS server (implicit FTPS) with these versions that greets and says goodbye; its port. */
async function legacyServer(o: tls.TlsOptions, servers: tls.Server[]): Promise<number> {
  const pair = await testCertificate();
  const server = tls.createServer({ ...pair, ...o }, (s) => {
    s.on('error', () => {});
    s.end('421 bye\r\n');
  });
  server.on('tlsClientError', () => {});
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function failureAt(port: number, extra: Partial<ClientOptions>): Promise<Error> {
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
}

describe(
  'a TLS 1.2-only server asked for --tls-min 1.3: the hint is the default, not TLS 1.0',
  { timeout: 30_000 },
  () => {
    const servers: tls.Server[] = [];
    let port: number;
    before(async () => {
      port = await legacyServer({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, servers);
    });
    after(() => servers.forEach((s) => s.close()));

    it('with --tls-min 1.3: the alert by name and number, and the default as the way', async () => {
      const err = await failureAt(port, { minTlsVersion: 'TLSv1.3' });
      assert.ok(err instanceof FerryError && err.code === 'ERR_TLS', String(err));
      assert.match(err.message, /the server sent a protocol version alert \(70\)/);
      assert.match(err.message, /highest TLS version is below 1\.3.*--tls-min 1\.2/);
      assert.doesNotMatch(err.message, /1\.0|weaker|SSL routines|deps\/openssl/);
    });

    it('by default: the handshake succeeds (the server then says 421)', async () => {
      const err = await failureAt(port, {});
      assert.match(err.message, /421 bye/);
    });
  },
);

describe('a TLS 1.0-only server: the error says --tls-min 1.0 allows it', { timeout: 30_000 }, () => {
  const servers: tls.Server[] = [];
  let port: number;
  before(async () => {
    // OpenSSL offers TLS 1.0 only at security level 0.
    port = await legacyServer(
      { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
      servers,
    );
  });
  after(() => servers.forEach((s) => s.close()));
  const failure = (extra: Partial<ClientOptions>): Promise<Error> => failureAt(port, extra);

  it('by default: the protocol_version alert, with the hint', async () => {
    const err = await failure({});
    assert.ok(err instanceof FerryError && err.code === 'ERR_TLS', String(err));
    assert.match(
      err.message,
      /^TLS handshake with 127\.0\.0\.1:\d+ failed: the server sent a protocol version alert \(70\) /,
    );
    assert.ok(err.message.endsWith(`${HINT}.`), err.message);
    assert.doesNotMatch(err.message, /SSL routines|deps\/openssl/); // OpenSSL's internals stay in `cause`
    assert.doesNotMatch(err.message, /\n/); // OpenSSL's text ends in a newline: one line all the same
  });

  it('with --tls-min 1.0: the handshake succeeds (the server then says 421)', async () => {
    const err = await failure({ minTlsVersion: 'TLSv1' });
    assert.match(err.message, /421 bye/);
  });
});
