/**
 * A STOR that got no data connection (425: no PASV/PORT first, or an active connect refused)
 * replaced nothing and cut nothing: a resume of the file (APPE, REST + STOR) is not refused as one
 * onto a cut upload's leftover. An upload really cut stays refused after such a STOR, and so does
 * one whose client went as its data connection came (it may hold bytes for sent).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import { describe, test } from 'node:test';
import { loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

describe('a STOR that never started', { timeout: 60_000 }, () => {
  const server = useFerry();

  test('425, then APPE and REST + STOR of that file are taken', async () => {
    const ts = server();
    const file = path.join(ts.root, 'f.txt');
    await writeFile(file, 'hello ');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      await ftp.cmd('STOR f.txt', 425);
      const [, appended] = await ftp.store('f.txt', Buffer.from('world'), 'APPE');
      assert.equal(appended.code, 226, textOf(appended));
      await ftp.cmd('STOR f.txt', 425);
      await ftp.cmd('REST 11', 350);
      const [, restarted] = await ftp.store('f.txt', Buffer.from('!'));
      assert.equal(restarted.code, 226, textOf(restarted));
      assert.equal(await readFile(file, 'utf8'), 'hello world!');
    });
  });

  test('an upload cut before it stays refused a resume', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'g.txt'), 'old');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      const conn = await ftp.openData(await ftp.epsv(), { tls: true });
      await ftp.cmd('STOR g.txt', 150);
      await ftp.uploadTruncated(conn, Buffer.from('new, cut'));
      await ftp.expect(426);
      await ftp.cmd('STOR g.txt', 425);
      await ftp.epsv();
      const appe = await ftp.cmd('APPE g.txt', 451);
      // It says no more than it knows: an upload of the file began and did not complete.
      assert.match(textOf(appe), /^Resume refused .*: an upload of this file did not complete, /);
    });
  });

  test('an active connect refused (425 after the 150), then APPE of that file is taken', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'a.txt'), 'hello ');
    // A port nothing listens on: the server's connect to it is refused.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      await ftp.cmd(`EPRT |1|127.0.0.1|${port}|`, 200);
      await ftp.cmd('STOR a.txt', 150);
      await ftp.expect(425);
      const [, appended] = await ftp.store('a.txt', Buffer.from('world'), 'APPE');
      assert.equal(appended.code, 226, textOf(appended));
      assert.equal(await readFile(path.join(ts.root, 'a.txt'), 'utf8'), 'hello world');
    });
  });

  test('a data connection dropped before its TLS (nothing could be sent), then APPE is taken', async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'h.txt'), 'old ');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('TYPE I', 200);
      const conn = await ftp.openData(await ftp.epsv(), { tls: false });
      await ftp.cmd('STOR h.txt', 150);
      conn.raw.destroy(); // PROT P: no byte can come before the handshake, which never happens
      const failed = await ftp.expect();
      assert.ok([425, 522].includes(failed.code), textOf(failed));
      const [, appended] = await ftp.store('h.txt', Buffer.from('new'), 'APPE');
      assert.equal(appended.code, 226, textOf(appended));
      assert.equal(await readFile(path.join(ts.root, 'h.txt'), 'utf8'), 'old new');
    });
  });

  // Two sessions replace one file: the second's STOR rewrites the record the first's wrote (the
  // same version). The first then gets no data connection: it must not take the record with it,
  // for the second's upload, cut, leaves that old version, which a resume must not continue.
  test('a STOR without a data connection leaves the record another session’s STOR of the file, cut, rewrote', async () => {
    const ts = server();
    const file = path.join(ts.root, 'r.bin');
    await writeFile(file, 'OLD-VERSION');
    await withClients(async (track) => {
      const one = track(await loggedIn(ts, 'implicit'));
      const two = track(await loggedIn(ts, 'implicit'));
      await one.cmd('TYPE I', 200);
      await two.cmd('TYPE I', 200);
      // Data connections made, their TLS not begun: each STOR wrote its record before its 150, and waits.
      const unserved = await one.openData(await one.epsv(), { tls: false });
      await one.cmd('STOR r.bin', 150);
      const plain = await two.openData(await two.epsv(), { tls: false });
      await two.cmd('STOR r.bin', 150);
      unserved.raw.destroy(); // dropped before its TLS: nothing sent, nothing stored
      const failed = await one.expect();
      assert.ok([425, 522].includes(failed.code), textOf(failed));
      await two.uploadTruncated(await two.secureData(plain), Buffer.from('NEW-'));
      await two.expect(426);
      await two.epsv();
      const appe = await two.cmd('APPE r.bin', 451);
      assert.match(textOf(appe), /^Resume refused .*: an upload of this file did not complete, /);
      assert.equal(await readFile(file, 'utf8'), 'OLD-VERSION');
    });
  });

  // The race a client's abort on its first bytes hit (test/client/ferry-server.test.ts, `put -c`
  // onto a cut upload): its side of the data connection was ready and bytes written, the server's
  // not yet. Held here: the client never starts the data connection's TLS, so the server cannot
  // serve it before the ABOR or the close; the record must stand from the 150 on. The data
  // connection stays open (one dropped before its TLS is the case above: no record).
  for (const [how, name] of [
    ['ABOR', 'i.txt'],
    ['the control connection closed', 'j.txt'],
  ] as const)
    test(`a STOR ended (${how}) after its 150, its data connection made but not served: a resume stays refused`, async () => {
      const ts = server();
      await writeFile(path.join(ts.root, name), 'old');
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, 'implicit'));
        await ftp.cmd('TYPE I', 200);
        await ftp.openData(await ftp.epsv(), { tls: false });
        await ftp.cmd(`STOR ${name}`, 150);
        let next = ftp;
        if (how === 'ABOR') {
          await ftp.cmd('ABOR', 426);
          await ftp.expect(226);
        } else {
          const from = ts.logs.length;
          ftp.socket.destroy(); // the control connection alone
          // Its end is a 426 (425 or 522, no data connection, would forget the record).
          const done = await waitForLog(ts, (l) => l.msg === 'transfer', from);
          assert.equal((done.obj as { reply?: number }).reply, 426);
          next = track(await loggedIn(ts, 'implicit'));
        }
        await next.epsv();
        const appe = await next.cmd(`APPE ${name}`, 451);
        assert.match(textOf(appe), /^Resume refused .*: an upload of this file did not complete, /);
        assert.equal(await readFile(path.join(ts.root, name), 'utf8'), 'old');
      });
    });
});
