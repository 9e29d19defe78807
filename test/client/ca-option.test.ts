/**
 * The library's `ca` option must hold certificates, as the CLI's --ca must: Node's TLS skips what it
 * cannot read in a CA list without a word, so a key, a DER file or any other text trusted nothing
 * and the server was then "not trusted". Such a `ca` is refused before anything connects.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { FerryClient } from '../../src/client/client.js';
import { FerryError } from '../../src/errors.js';
import { testCertificate } from '../support/ferry.js';

describe('the ca option must hold a certificate', () => {
  let server: net.Server;
  let port = 0;
  let connections = 0;
  let cert = '';
  let key = '';

  before(async () => {
    ({ cert, key } = await testCertificate());
    // A server that hangs up at once: enough to tell "connected" from "refused before".
    server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(() => server?.close());

  const connect = (ca: string | Buffer | (string | Buffer)[]): Promise<FerryClient> =>
    FerryClient.connect({ host: '127.0.0.1', port, security: 'implicit', user: 'u', password: 'p', ca });

  const refused = (name: string, says: RegExp) => (err: unknown) => {
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(err.code, 'ERR_INVALID_OPTION', err.message);
    assert.ok(err.message.startsWith(name), err.message);
    assert.match(err.message, says);
    return true;
  };

  it('refuses text, a key, or a list with such an entry, before connecting', async () => {
    const none = /holds no PEM certificate/;
    await assert.rejects(connect('myhost\n'), refused('options.ca ', none));
    await assert.rejects(connect(Buffer.from(key)), refused('options.ca ', none));
    await assert.rejects(connect([cert, Buffer.from('junk')]), refused('options.ca[1] ', none));
    const broken = `${cert}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    await assert.rejects(connect(broken), refused('options.ca: ', /certificate 2 cannot be read/));
    assert.equal(connections, 0);
  });

  it('takes certificates, text around them allowed (as a CA bundle has)', async () => {
    const before = connections;
    await assert.rejects(connect([`# our CA\n${cert}`, Buffer.from(cert)]), (err: unknown) => {
      assert.ok(err instanceof FerryError, String(err));
      assert.notEqual(err.code, 'ERR_INVALID_OPTION', err.message);
      return true;
    });
    assert.equal(connections, before + 1);
  });
});
