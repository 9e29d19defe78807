/**
 * Implicit FTPS (MS-FTPS 3.2.5): TLS from the first byte, PBSZ 0 + PROT P implied, AUTH and CCC
 * refused, REIN renegotiates TLS on the same TCP connection.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { RawFtp, withDeadline, type DataConnection } from '../support/raw-ftp.js';
import { connectSecure, loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

/** Opens a clear (non-TLS) data connection and sends RETR `name` (150: the server then expects TLS). */
async function clearRetr(ftp: RawFtp, name: string): Promise<DataConnection> {
  const port = await ftp.epsv();
  const conn = await ftp.openData(port, { tls: false });
  await ftp.cmd(`RETR ${name}`, 150);
  return conn;
}

/** The transfer ends in 522/425 and no TOP-SECRET byte came over the clear data connection. */
async function assertRefusedInClear(ftp: RawFtp, conn: DataConnection): Promise<void> {
  const r = await ftp.expect();
  assert.ok(r.code === 522 || r.code === 425, `expected 522/425, got ${r.code} ${textOf(r)}`);
  const got = await ftp.readAll(conn);
  assert.ok(!got.toString('latin1').includes('TOP-SECRET'), 'file data leaked in clear');
}

describe('implicit FTPS', { timeout: 120_000 }, () => {
  const server = useFerry();

  test('nothing precedes TLS: the first bytes from the server are a TLS handshake record, then 220 inside TLS', async () => {
    const from = server().logs.length;
    await withClients(async (track) => {
      const ftp = track(
        await RawFtp.connect({
          host: server().host,
          port: server().implicitPort,
          implicit: true,
          // The server has accepted the connection (and would have sent a plaintext greeting right
          // then) before we send our ClientHello.
          beforeTls: async (c) => {
            await waitForLog(
              server(),
              (l) => l.msg === 'connect' && 'mode' in l.obj && l.obj.mode === 'implicit',
              from,
            );
            assert.equal(c.rawReceived.length, 0, 'bytes arrived before the ClientHello');
          },
        }),
      );
      const first = ftp.rawReceived[0];
      assert.ok(first && first.length >= 5, 'the server answered the ClientHello');
      assert.equal(first[0], 0x16, 'first byte is a TLS handshake record (ServerHello), not plaintext');
      assert.equal(first[1], 0x03, 'TLS record version major');
      const greeting = await ftp.expect(220);
      assert.match(textOf(greeting), /ready/i);
      const raw = Buffer.concat(ftp.rawReceived).toString('latin1');
      assert.ok(!raw.includes('220'), 'the greeting never travels in clear');
      assert.ok(ftp.secure);
    });
  });

  test('PROT P is implied: transfers work without PBSZ/PROT, over TLS resuming the control session', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      await ftp.login(server().user, server().password);
      await ftp.cmd('TYPE I', 200);
      const body = Buffer.from('implicit data, protected without asking\n');
      const [, done] = await ftp.store('implicit.txt', body);
      assert.equal(done.code, 226, textOf(done));
      const port = await ftp.epsv();
      const conn = await ftp.openData(port, { tls: true });
      assert.ok(conn.sessionReused, 'data TLS resumed the control session');
      await ftp.cmd('RETR implicit.txt', 150);
      assert.deepEqual(await ftp.readAll(conn), body);
      await ftp.expect(226);
      const stat = await ftp.cmd('STAT', 211);
      assert.match(textOf(stat), /data protection: private/);
    });
  });

  test('a clear (non-TLS) data connection is refused with 522 and no file data travels in clear', async () => {
    const secret = 'TOP-SECRET-MARKER-' + 'x'.repeat(1000);
    await writeFile(path.join(server().root, 'secret.txt'), secret);
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      await ftp.login(server().user, server().password);
      const conn = await clearRetr(ftp, 'secret.txt');
      // A clear-text client speaks FTP data, not TLS: the server's handshake fails.
      conn.raw.write('not a TLS ClientHello\r\n');
      await assertRefusedInClear(ftp, conn);
      // The session goes on, and a protected transfer of the same file works.
      assert.equal((await ftp.retrieve('secret.txt')).toString(), secret);
    });
  });

  test('PROT C is refused on implicit FTPS (534); PBSZ 0 and PROT P are accepted', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      assert.match(textOf(await ftp.cmd('PBSZ 0', 200)), /PBSZ=0/);
      await ftp.cmd('PROT C', 534);
      await ftp.cmd('PROT P', 200);
    });
  });

  test('AUTH TLS and AUTH SSL are refused with 503 (the AUTH was implied), before and after login', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      for (const mech of ['TLS', 'SSL', 'TLS-C']) await ftp.cmd(`AUTH ${mech}`, 503);
      await ftp.login(server().user, server().password);
      for (const mech of ['TLS', 'SSL']) await ftp.cmd(`AUTH ${mech}`, 503);
      assert.ok(ftp.secure, 'still inside the same TLS session');
      await ftp.cmd('PWD', 257);
    });
  });

  test('CCC is refused with 533', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      await ftp.cmd('CCC', 533);
      assert.ok(ftp.secure);
      await ftp.cmd('NOOP', 200);
    });
  });

  test('REIN: 220, TLS close_notify, a new handshake on the same TCP connection, greeting, clean state', async () => {
    await writeFile(path.join(server().root, 'after-rein.txt'), 'after rein\n');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      await ftp.cmd('MKD rein-dir', 257);
      await ftp.cmd('CWD rein-dir', 250);
      await ftp.cmd('TYPE I', 200);
      const oldTls = ftp.controlTls;
      const localPort = ftp.socket.localPort;

      await ftp.cmd('REIN', 220);
      await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
      await ftp.stopTls();
      assert.equal(ftp.secure, false);
      await ftp.startTls();
      assert.notEqual(ftp.controlTls, oldTls, 'a new TLS session');
      assert.equal(ftp.isClosed, false);
      assert.equal(ftp.socket.localPort, localPort, 'same TCP connection');

      const greeting = await ftp.expect(220);
      assert.match(textOf(greeting), /ready/i);
      await ftp.cmd('PWD', 530); // logged out
      await ftp.login(server().user, server().password);
      assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /, 'cwd back to /');
      const stat = textOf(await ftp.cmd('STAT', 211));
      assert.match(stat, /data protection: private/, 'PROT P implied again');
      assert.match(stat, /TYPE: ASCII/, 'TYPE back to its default');
      // PROT P works without PBSZ/PROT, and data connections resume the NEW control session.
      assert.equal((await ftp.retrieve('after-rein.txt')).toString(), 'after rein\r\n');
      await ftp.quit();
    });
  });
});

describe('implicit FTPS with allowCcc', { timeout: 60_000 }, () => {
  const server = useFerry({ allowCcc: true });

  test('CCC is still refused with 533 (MS-FTPS 3.2.5.2)', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      await ftp.cmd('CCC', 533);
      assert.ok(ftp.secure);
      await ftp.cmd('PWD', 257);
    });
  });
});

describe('implicit FTPS with a short data handshake timeout', { timeout: 60_000 }, () => {
  const server = useFerry({ timeouts: { handshakeMs: 500 } });

  test('a clear data connection that just waits for data gets nothing, and the transfer 522/425', async () => {
    await writeFile(path.join(server().root, 'secret.txt'), 'TOP-SECRET-MARKER');
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      await ftp.login(server().user, server().password);
      const conn = await clearRetr(ftp, 'secret.txt');
      await assertRefusedInClear(ftp, conn);
      await ftp.cmd('NOOP', 200);
    });
  });
});
