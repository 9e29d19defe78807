/**
 * Explicit FTPS (RFC 4217, MS-FTPS 3.2.5.4): AUTH TLS/SSL, PBSZ/PROT sequencing, CCC, REIN.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TestServer } from '../support/ferry.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { connectSecure, loggedIn, textOf, useFerry, withClients } from './harness.js';

/** Connected to the explicit port, greeting read, still in clear. */
async function plain(ts: TestServer): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: ts.host, port: ts.explicitPort, implicit: false });
  await ftp.expect(220);
  return ftp;
}

describe('explicit FTPS', { timeout: 120_000 }, () => {
  const server = useFerry();

  test('the greeting is plaintext 220', async () => {
    await withClients(async (track) => {
      const ftp = track(await plain(server()));
      assert.equal(ftp.secure, false);
      assert.match(Buffer.concat(ftp.rawReceived).toString('latin1'), /^220 /);
    });
  });

  for (const mech of ['TLS', 'SSL']) {
    test(`AUTH ${mech}: 234, handshake, login, PBSZ/PROT, upload and download`, async () => {
      await withClients(async (track) => {
        const ftp = track(await plain(server()));
        const r = await ftp.authTls(mech);
        assert.equal(r.code, 234, textOf(r));
        assert.ok(ftp.secure);
        await ftp.login(server().user, server().password);
        await ftp.cmd('PBSZ 0', 200);
        await ftp.cmd('PROT P', 200);
        await ftp.cmd('TYPE I', 200);
        const body = Buffer.from(`uploaded after AUTH ${mech}\n`);
        const [, done] = await ftp.store(`auth-${mech}.txt`, body);
        assert.equal(done.code, 226, textOf(done));
        assert.deepEqual(await ftp.retrieve(`auth-${mech}.txt`), body);
        await ftp.quit();
      });
    });
  }

  test('AUTH TLS-P implies PBSZ 0 and PROT P (data in TLS with neither sent); AUTH TLS-C does not', async () => {
    await withClients(async (track) => {
      const p = track(await plain(server()));
      assert.equal((await p.authTls('TLS-P')).code, 234);
      await p.login(server().user, server().password);
      await p.listing('LIST'); // over TLS, with no PBSZ or PROT sent
      const c = track(await plain(server()));
      assert.equal((await c.authTls('TLS-C')).code, 234);
      await c.login(server().user, server().password);
      await c.cmd('LIST', 534);
      await c.cmd('PROT P', 503);
    });
  });

  test('AUTH while TLS is active → 503; the session stays usable', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('AUTH TLS', 503);
      await ftp.cmd('AUTH SSL', 503);
      await ftp.login(server().user, server().password);
      await ftp.cmd('AUTH TLS', 503);
      await ftp.cmd('PWD', 257);
    });
  });

  test('AUTH with an unknown mechanism → 504, without one → 501, still in clear, AUTH TLS works next', async () => {
    await withClients(async (track) => {
      const ftp = track(await plain(server()));
      await ftp.cmd('AUTH XYZ', 504);
      await ftp.cmd('AUTH', 501);
      assert.equal(ftp.secure, false);
      assert.equal((await ftp.authTls('TLS')).code, 234);
      await ftp.login(server().user, server().password);
    });
  });

  test('PBSZ and PROT before AUTH → 503', async () => {
    await withClients(async (track) => {
      const ftp = track(await plain(server()));
      await ftp.cmd('PBSZ 0', 503);
      await ftp.cmd('PROT P', 503);
    });
  });

  test('PROT before PBSZ → 503; PBSZ 0 → 200 "PBSZ=0"; then PROT P → 200', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('PROT P', 503);
      const r = await ftp.cmd('PBSZ 0', 200);
      assert.match(textOf(r), /PBSZ=0/);
      await ftp.cmd('PROT P', 200);
    });
  });

  test('PROT S and PROT E → 536; PROT C → 534 by default', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT S', 536);
      await ftp.cmd('PROT E', 536);
      await ftp.cmd('PROT C', 534);
    });
  });

  test('a transfer before PROT P is refused (534), so data never travels in clear; one without a path is 501', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.login(server().user, server().password);
      await ftp.cmd('LIST', 534);
      await ftp.cmd('RETR anything', 534);
      // No path: nothing to transfer, so the missing argument is what is wrong (501, not 534).
      for (const verb of ['RETR', 'STOR', 'APPE'])
        assert.equal(textOf(await ftp.cmd(verb, 501)), `${verb} needs a path.`);
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT P', 200);
      await ftp.listing('LIST');
    });
  });

  test('CCC → 533 by default; the control connection stays in TLS', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('CCC', 533);
      assert.ok(ftp.secure);
      await ftp.cmd('PWD', 257);
    });
  });

  test('USER, PASS and other commands before AUTH → 530 with a clear text', async () => {
    await withClients(async (track) => {
      const ftp = track(await plain(server()));
      const r = await ftp.cmd(`USER ${server().user}`, 530);
      assert.match(textOf(r), /TLS/);
      assert.match(textOf(r), /AUTH TLS/);
      await ftp.cmd(`PASS ${server().password}`, 530);
      await ftp.cmd('PWD', 530);
      assert.equal(ftp.secure, false);
    });
  });

  test('REIN: 220, back to plaintext; USER is refused until AUTH TLS, which works again', async () => {
    await writeFile(path.join(server().root, 'rein.txt'), 'rein');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('MKD rein-explicit', 257);
      await ftp.cmd('CWD rein-explicit', 250);
      const localPort = ftp.socket.localPort;
      await ftp.cmd('REIN', 220);
      await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
      await ftp.stopTls();
      assert.equal(ftp.secure, false);
      const before = ftp.rawReceived.length;
      const r = await ftp.cmd(`USER ${server().user}`, 530);
      assert.match(textOf(r), /AUTH TLS/);
      assert.match(
        Buffer.concat(ftp.rawReceived.slice(before)).toString('latin1'),
        /^530 /,
        'plaintext reply',
      );
      assert.equal((await ftp.authTls('TLS')).code, 234);
      await ftp.login(server().user, server().password);
      assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
      await ftp.cmd('LIST', 534); // PROT P was reset too
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT P', 200);
      await ftp.cmd('TYPE I', 200);
      assert.equal((await ftp.retrieve('rein.txt')).toString(), 'rein');
      assert.equal(ftp.socket.localPort, localPort, 'same TCP connection');
    });
  });
});

describe('explicit FTPS with allowCcc', { timeout: 60_000 }, () => {
  const server = useFerry({ allowCcc: true });

  test('CCC → 200, close_notify, then the control connection continues in plaintext', async () => {
    await writeFile(path.join(server().root, 'after-ccc.txt'), 'after ccc');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('TYPE I', 200);
      await ftp.cmd('CCC', 200);
      await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
      await ftp.stopTls();
      assert.equal(ftp.secure, false);
      const before = ftp.rawReceived.length;
      const pwd = await ftp.cmd('PWD', 257);
      assert.match(textOf(pwd), /^"\/" /);
      assert.match(Buffer.concat(ftp.rawReceived.slice(before)).toString('latin1'), /^257 "\/"/, 'in clear');
      // The data connections stay protected (PROT P), resuming the session the control had.
      assert.equal((await ftp.retrieve('after-ccc.txt')).toString(), 'after ccc');
      await ftp.quit();
    });
  });

  test('CCC before AUTH → 503 (nothing to clear)', async () => {
    await withClients(async (track) => {
      const ftp = track(await plain(server()));
      await ftp.cmd('CCC', 503);
    });
  });
});

describe('explicit port with allowPlainControl (data still protected)', { timeout: 60_000 }, () => {
  const server = useFerry({ allowPlainControl: true });

  test('a plain login works; a transfer is refused with advice that works without TLS', async () => {
    await withClients(async (track) => {
      const ftp = track(await plain(server()));
      await ftp.login(server().user, server().password);
      for (const line of ['LIST', 'NLST', 'RETR anything']) {
        const r = await ftp.cmd(line, 534);
        assert.equal(
          textOf(r),
          'Data connections must be protected: this connection has no TLS (send AUTH TLS, then PBSZ 0 and PROT P).',
        );
      }
      await ftp.cmd('PBSZ 0', 503); // as the advice says: not without TLS
      assert.equal((await ftp.authTls('TLS')).code, 234);
      assert.equal(
        textOf(await ftp.cmd('LIST', 534)),
        'Data connections must be protected: send PBSZ 0 and PROT P.',
      );
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT P', 200);
      await ftp.listing('LIST');
    });
  });
});

describe('explicit FTPS with allowClearData', { timeout: 60_000 }, () => {
  const server = useFerry({ allowClearData: true });

  test('PROT C → 200 and data connections are then plain TCP', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.login(server().user, server().password);
      await ftp.cmd('PBSZ 0', 200);
      await ftp.cmd('PROT C', 200);
      await ftp.cmd('TYPE I', 200);
      ftp.dataTls = false;
      const body = Buffer.from('clear data, by request\n');
      const [, done] = await ftp.store('clear.txt', body);
      assert.equal(done.code, 226, textOf(done));
      const port = await ftp.epsv();
      const conn = await ftp.openData(port, { tls: false });
      await ftp.cmd('RETR clear.txt', 150);
      assert.deepEqual(await ftp.readAll(conn), body);
      await ftp.expect(226);
      assert.equal(conn.tls, undefined);
    });
  });
});
