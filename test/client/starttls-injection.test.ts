/**
 * STARTTLS injection (the CVE-2011-0411 class): what arrives after `234` in clear, before the TLS
 * handshake, is not the server's protected word (an attacker on the path can add it, as it can
 * add bytes to no TLS record). Read as the first replies over TLS, a `230 ` written ahead of the
 * server's `331` made `USER` look logged in. The client refuses such bytes, complete replies or a
 * start of one, before the handshake; the server then hears nothing more.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { FerryError } from '../../src/errors.js';
import type { KeyPair } from '../../src/tls/certificates.js';
import { testCertificate } from '../support/ferry.js';
import { ScriptedServer } from './support/scripted-server.js';

/** An explicit FTPS server whose `234` to AUTH TLS is followed, in clear, by `injected`. */
class InjectingServer extends ScriptedServer {
  injected = '';

  constructor(readonly keys: KeyPair) {
    super(); // a control connection in clear until AUTH
  }

  protected session(sock: net.Socket): void {
    sock.write('220 explicit\r\n');
    // The client's first command is AUTH TLS (one line, one packet on loopback).
    sock.once('data', (d: Buffer) => {
      this.parse(d.toString('latin1').trim());
      sock.write(`234 go\r\n${this.injected}`);
      const secured = new tls.TLSSocket(sock, { isServer: true, ...this.keys });
      this.track(secured);
      this.commandLines(secured, (verb) => {
        if (!this.common(secured, verb, (text) => secured.write(`${text}\r\n`))) secured.write('200 ok\r\n');
      });
    });
  }
}

describe('bytes after 234, before the TLS handshake', { timeout: 30_000 }, () => {
  let server: InjectingServer;
  before(async () => {
    server = await new InjectingServer(await testCertificate()).listen();
  });
  after(() => server?.close());

  const connect = () => server.connect({ security: 'explicit', ca: server.keys.cert, allowPlain: false });

  for (const [what, injected] of [
    ['the start of a reply', '230 '],
    ['a whole reply', '230 logged in\r\n'],
  ] as const) {
    it(`${what}: refused before the handshake, nothing more sent`, async () => {
      server.injected = injected;
      server.commands.length = 0;
      await assert.rejects(connect(), (err: unknown) => {
        assert.ok(err instanceof FerryError, String(err));
        assert.equal(err.code, 'ERR_PROTOCOL');
        assert.match(
          err.message,
          /in clear after the reply that starts TLS \(234 to AUTH\), before the TLS handshake/,
        );
        return true;
      });
      assert.deepEqual(server.commands, ['AUTH TLS']);
    });
  }
});
