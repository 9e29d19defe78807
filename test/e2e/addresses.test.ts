import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawFtp } from '../support/raw-ftp.js';
import { startFerry } from '../support/ferry.js';
import { loggedIn, textOf, withClients } from './harness.js';

test('IPv6: implicit FTPS on ::1, EPSV data connections, PASV refused with a pointer to EPSV (an IPv4 passive address too)', async () => {
  // A NAT's IPv4 passive address cannot serve an IPv6 control connection: PASV must not announce it.
  const ts = await startFerry({
    explicit: false,
    implicit: { host: '::1', port: 0 },
    passive: { address: '192.0.2.7' },
  });
  try {
    await withClients(async (track) => {
      const ftp = track(await RawFtp.connect({ host: '::1', port: ts.implicitPort, implicit: true }));
      await ftp.expect(220);
      await ftp.login(ts.user, ts.password);
      await ftp.cmd('TYPE I', 200);
      const [, stored] = await ftp.store('six.txt', Buffer.from('over IPv6\n'));
      assert.equal(stored.code, 226);
      assert.equal((await ftp.retrieve('six.txt')).toString(), 'over IPv6\n');
      const pasv = await ftp.cmd('PASV');
      assert.equal(pasv.code, 425);
      assert.match(pasv.lines.join(' '), /EPSV/);
      // EPSV 1, and EPRT to an IPv4 address or an unknown protocol, on an IPv6 connection: 522
      // naming the usable protocol (RFC 2428 2, 3).
      for (const line of ['EPSV 1', 'EPRT |1|127.0.0.1|50000|', 'EPRT |9|::1|50000|'])
        assert.equal(textOf(await ftp.cmd(line, 522)), 'Network protocol not supported, use (2).', line);
    });
  } finally {
    await ts.close();
  }
});

test('PASV announces the configured passive address (NAT) and ports from the configured range', async () => {
  const ts = await startFerry({ passive: { address: '192.0.2.7', portMin: 40000, portMax: 40999 } });
  try {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      const r = await ftp.cmd('PASV', 227);
      const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r.lines.join(' '));
      assert.ok(m, r.lines.join(' '));
      assert.equal(m.slice(1, 5).join('.'), '192.0.2.7');
      const port = Number(m[5]) * 256 + Number(m[6]);
      assert.ok(port >= 40000 && port <= 40999, `port ${port} outside the range`);
      const epsvPort = await ftp.epsv();
      assert.ok(epsvPort >= 40000 && epsvPort <= 40999, `EPSV port ${epsvPort} outside the range`);
      // The data connection itself still works through the real address (EPSV carries no address).
      assert.equal((await ftp.listing('NLST')).trim(), '');
    });
  } finally {
    await ts.close();
  }
});
