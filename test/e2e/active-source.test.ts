/**
 * Active mode (PORT/EPRT) connects from the address the client connected to, as vsftpd and ProFTPD
 * do: a server on a secondary or floating address must not show up from its primary one, which a
 * client's firewall does not let in. Here the secondary address is 127.0.0.2 and the client listens
 * on 127.0.0.1 (from which it connects: the kernel's route to 127.0.0.2 leaves from 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { secureLogin } from '../support/ftps-session.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { withClients } from './harness.js';

const BODY = 'from the address the client connected to\n';

// 127.0.0.2 as itself, and as a dual-stack socket reports it (IPv4-mapped): the data connection is
// IPv4 either way, bound to 127.0.0.2.
for (const listen of ['127.0.0.2', '::ffff:127.0.0.2']) {
  describe(`active mode with the control connection on ${listen}`, { timeout: 60_000 }, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startFerry({ explicit: { host: listen, port: 0 }, implicit: false });
      await writeFile(path.join(ts.root, 'file.txt'), BODY);
    });
    after(async () => {
      await ts?.close();
    });

    for (const verb of ['EPRT', 'PORT'] as const) {
      test(`${verb}: the data connection comes from 127.0.0.2`, async () => {
        await withClients(async (track) => {
          const ftp = track(
            await secureLogin({
              host: '127.0.0.2',
              port: ts.explicitPort,
              implicit: false,
              user: ts.user,
              password: ts.password,
            }),
          );
          const listener = await ftp.listenActive({ tls: true, on: '127.0.0.1' });
          const { port } = listener;
          const arg = verb === 'EPRT' ? `|1|127.0.0.1|${port}|` : `127,0,0,1,${port >> 8},${port & 255}`;
          await ftp.cmd(`${verb} ${arg}`, 200);
          ftp.send('RETR file.txt');
          const conn = await listener.accept();
          await ftp.expect(150);
          assert.equal(conn.raw.remoteAddress, '127.0.0.2');
          assert.equal((await ftp.readAll(conn)).toString(), BODY);
          await ftp.expect(226);
        });
      });
    }
  });
}
