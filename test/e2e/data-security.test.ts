/**
 * Data connections belong to their control connection: TLS must resume the control session (unless
 * configured otherwise), only the control peer may connect, and PORT/EPRT never target a third party.
 * Run over explicit and implicit FTPS.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withDeadline } from '../support/raw-ftp.js';
import { certificateFiles, loggedIn, MODES, textOf, useFerry, waitForLog, withClients } from './harness.js';

const BODY = 'data connection security\n'.repeat(100);

for (const mode of MODES) {
  describe(`data connection security (${mode})`, { timeout: 120_000 }, () => {
    const server = useFerry();
    before(async () => {
      await writeFile(path.join(server().root, 'file.txt'), BODY);
    });

    test('a data connection that does not resume the control TLS session is refused with 522 and logged', async () => {
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        // The client-side handshake may complete before the server checks resumption.
        const conn = await ftp.openData(port, { tls: true, reuse: false }).catch(() => undefined);
        ftp.send('RETR file.txt');
        const first = await ftp.expect();
        const r = first.code === 150 ? await ftp.expect() : first;
        assert.equal(r.code, 522, textOf(r));
        assert.match(textOf(r), /resume the TLS session/, 'the reply says why');
        if (conn) {
          assert.equal(conn.sessionReused, false);
          const got = await ftp.readAll(conn);
          assert.equal(got.length, 0, 'no file data on a refused connection');
        }
        await waitForLog(server(), (l) => /did not resume/.test(l.msg), from);
        // Resuming the session works.
        assert.equal((await ftp.retrieve('file.txt')).toString(), BODY);
      });
    });

    test('a data connection from another address is refused and logged; the real client still transfers', async () => {
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const intruder = await ftp.openData(port, { tls: false, localAddress: '127.0.0.2' });
        await withDeadline(intruder.closed, ftp.timeoutMs, 'the server to drop the intruder');
        assert.equal(Buffer.concat(intruder.received).length, 0);
        const logged = await waitForLog(
          server(),
          (l) => /not from the control connection peer/.test(l.msg),
          from,
        );
        assert.match(JSON.stringify(logged.obj), /127\.0\.0\.2/);
        assert.ok(logged.level === 'warn' || logged.level === 'error', logged.level);

        const conn = await ftp.openData(port, { tls: true });
        await ftp.cmd('RETR file.txt', 150);
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
      });
    });

    test('an intruder connecting AFTER the client is turned away and the transfer is unaffected', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true });
        // The passive port is closed once the client connected: the intruder cannot even connect.
        const intruder = await ftp
          .openData(port, { tls: false, localAddress: '127.0.0.2' })
          .catch(() => undefined);
        if (intruder) await withDeadline(intruder.closed, ftp.timeoutMs, 'the server to drop the intruder');
        await ftp.cmd('RETR file.txt', 150);
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
      });
    });

    test('PORT/EPRT to another host or a privileged port is refused (504)', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        for (const line of [
          'PORT 127,0,0,2,195,80',
          'PORT 10,1,2,3,195,80',
          'EPRT |1|127.0.0.2|50000|',
          'EPRT |1|10.1.2.3|50000|',
          'EPRT |2|::1|50000|',
          'PORT 127,0,0,1,0,21',
          'EPRT |1|127.0.0.1|22|',
        ]) {
          const r = await ftp.cmd(line);
          assert.equal(r.code, 504, `${line}: ${r.code} ${textOf(r)}`);
        }
        // A refused PORT leaves no data endpoint behind.
        await ftp.cmd('LIST', 425);
        await ftp.cmd('PORT 1,2,3', 501);
        await ftp.cmd('EPRT |9|127.0.0.1|50000|', 522);
      });
    });

    for (const verb of ['PORT', 'EPRT'] as const) {
      test(`active mode (${verb} to the client itself): the server connects, the client is the TLS client`, async () => {
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          await ftp.cmd('TYPE I', 200);
          const listener = await ftp.listenActive({ tls: true });
          const arg =
            verb === 'PORT'
              ? `127,0,0,1,${listener.port >> 8},${listener.port & 255}`
              : `|1|127.0.0.1|${listener.port}|`;
          await ftp.cmd(`${verb} ${arg}`, 200);
          ftp.send('RETR file.txt');
          const conn = await listener.accept();
          await ftp.expect(150);
          assert.ok(conn.sessionReused, 'active data TLS resumed the control session');
          assert.equal((await ftp.readAll(conn)).toString(), BODY);
          await ftp.expect(226);
        });
      });
    }
  });
}

describe('data connection security with requireSessionReuse: false', { timeout: 60_000 }, () => {
  let certs: Awaited<ReturnType<typeof certificateFiles>>;
  before(async () => {
    certs = await certificateFiles();
  });
  const server = useFerry(() => ({ tls: { ...certs.tls, requireSessionReuse: false } }));
  before(async () => {
    await writeFile(path.join(server().root, 'file.txt'), BODY);
  });
  after(async () => {
    await certs.cleanup();
  });

  for (const mode of MODES) {
    test(`${mode}: a data connection with a fresh TLS session is accepted`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const conn = await ftp.openData(port, { tls: true, reuse: false });
        assert.equal(conn.sessionReused, false);
        await ftp.cmd('RETR file.txt', 150);
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
      });
    });
  }
});
