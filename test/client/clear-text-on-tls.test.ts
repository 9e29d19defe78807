// A server that writes clear text onto the TLS control connection, as vsftpd's parent does when the
// process serving the session dies (`500 OOPS: …`): the client says so in one line, with OpenSSL's
// code, rather than OpenSSL's raw message and an empty line.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { EXIT } from '../../src/cli/client-exit-codes.js';
import { testCertificate } from '../support/ferry.js';
import { ferry } from './helpers.js';

test(
  'clear text on the TLS control connection: one line naming it, exit 3',
  { timeout: 60_000 },
  async (t) => {
    const pair = await testCertificate();
    /** Called once the session's first command came: the relay then writes clear text to the client. */
    let oops = (): void => {};
    // The TLS side (implicit FTPS): greets, and answers no command.
    const secure = tls.createServer({ cert: pair.cert, key: pair.key }, (s) => {
      s.on('error', () => {});
      s.write('220 hello\r\n');
      s.once('data', () => oops());
    });
    // What the client connects to: relays the TLS bytes, until it writes clear text and closes.
    const relay = net.createServer((down) => {
      down.on('error', () => {});
      const up = net.connect((secure.address() as net.AddressInfo).port, '127.0.0.1');
      up.on('error', () => {});
      let relaying = true;
      down.on('data', (d: Buffer) => relaying && up.write(d));
      up.on('data', (d: Buffer) => relaying && down.write(d));
      oops = () => {
        relaying = false;
        up.destroy();
        down.end('500 OOPS: child died\r\n');
      };
    });
    for (const s of [secure, relay]) {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      t.after(() => s.close());
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-clear-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ca = path.join(dir, 'ca.pem');
    await writeFile(ca, pair.cert);
    const port = (relay.address() as net.AddressInfo).port;
    const r = await ferry(['ls', `ftps://u@127.0.0.1:${port}/`, '--ca', ca], { FERRY_PASSWORD: 'p' });
    assert.equal(r.code, EXIT.connection, r.stderr);
    assert.equal(
      r.stderr,
      "ferry: Control connection failed: the server sent data that is not TLS (a clear-text error such as vsftpd's 500 OOPS?) (ERR_SSL_WRONG_VERSION_NUMBER)\n",
    );
  },
);
