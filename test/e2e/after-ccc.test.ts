/**
 * After CCC (RFC 2228) only the control channel is in clear: the AUTH TLS exchange still stands, so
 * PBSZ and PROT work (z/OS clients send PROT again), a second AUTH is refused, and data connections
 * stay in TLS. Their handshake need not resume the control session any more (curl's default CCC
 * leaves it unresumable), but they must still come from the control connection's address.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { RawFtp } from '../support/raw-ftp.js';
import { withDeadline } from '../support/raw-ftp.js';
import type { TestServer } from '../support/ferry.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

const BODY = 'after CCC\n'.repeat(100);

/** Logged in over explicit FTPS (PROT P), TYPE I, then CCC: the control connection is in clear. */
async function cleared(ts: TestServer): Promise<RawFtp> {
  const ftp = await loggedIn(ts, 'explicit');
  await ftp.cmd('TYPE I', 200);
  await ftp.cmd('CCC', 200);
  await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
  await ftp.stopTls();
  return ftp;
}

describe('after CCC', { timeout: 60_000 }, () => {
  const server = useFerry({ allowCcc: true });

  test('PBSZ 0 and PROT P → 200, PROT C still 534 by policy; data connections stay in TLS', async () => {
    await writeFile(path.join(server().root, 'prot.txt'), BODY);
    await withClients(async (track) => {
      const ftp = track(await cleared(server()));
      assert.equal(textOf(await ftp.cmd('PBSZ 0', 200)), 'PBSZ=0');
      await ftp.cmd('PROT P', 200);
      await ftp.cmd('PROT C', 534);
      assert.equal((await ftp.retrieve('prot.txt')).toString(), BODY);
      await ftp.quit();
    });
  });

  test('AUTH TLS/SSL → 534 (no second security exchange); the session goes on in clear', async () => {
    await withClients(async (track) => {
      const ftp = track(await cleared(server()));
      assert.match(textOf(await ftp.cmd('AUTH TLS', 534)), /after CCC/);
      await ftp.cmd('AUTH SSL', 534);
      assert.equal(ftp.secure, false);
      await ftp.cmd('PWD', 257);
      await ftp.quit();
    });
  });

  test('REIN ends the session: AUTH TLS works again', async () => {
    await withClients(async (track) => {
      const ftp = track(await cleared(server()));
      await ftp.cmd('REIN', 220);
      assert.equal((await ftp.authTls('TLS')).code, 234);
      await ftp.login(server().user, server().password);
      await ftp.cmd('PWD', 257);
      await ftp.quit();
    });
  });

  test('a data connection with a full handshake is accepted from the control peer, refused from another address', async () => {
    await writeFile(path.join(server().root, 'full.txt'), BODY);
    const from = server().logs.length;
    await withClients(async (track) => {
      const ftp = track(await cleared(server()));
      const port = await ftp.epsv();
      const intruder = await ftp.openData(port, { tls: false, localAddress: '127.0.0.2' });
      await withDeadline(intruder.closed, ftp.timeoutMs, 'the server to drop the other address');
      assert.equal(Buffer.concat(intruder.received).length, 0);
      await waitForLog(server(), (l) => /not from the control connection peer/.test(l.msg), from);
      // What curl does after its default (passive) CCC: no session to offer.
      const conn = await ftp.openData(port, { tls: true, reuse: false });
      assert.equal(conn.sessionReused, false);
      await ftp.cmd('RETR full.txt', 150);
      assert.equal((await ftp.readAll(conn)).toString(), BODY);
      await ftp.expect(226);
      await ftp.quit();
    });
  });
});
