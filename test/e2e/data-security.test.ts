/**
 * Data connections belong to their control connection: TLS must resume the control session (unless
 * configured otherwise), only the control peer may connect, and PORT/EPRT never target a third party.
 * Run over explicit and implicit FTPS.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_WAITING_CONNECTIONS } from '../../src/server/data-connection.js';
import { waitEvent, withDeadline, type RawFtp } from '../support/raw-ftp.js';
import { certificateFiles, loggedIn, MODES, textOf, useFerry, waitForLog, withClients } from './harness.js';

const BODY = 'data connection security\n'.repeat(100);

for (const mode of MODES) {
  describe(`data connection security (${mode})`, { timeout: 120_000 }, () => {
    const server = useFerry();
    before(async () => {
      await writeFile(path.join(server().root, 'file.txt'), BODY);
    });

    test("a data connection offering another connection's TLS session after the transfer command is refused and logged; the client's own still transfers", async () => {
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const other = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        await ftp.cmd('RETR file.txt', 150);
        // Someone behind the same address connects first, with a session of their own.
        const intruder = await ftp
          .openData(port, { tls: true, session: await other.waitForSession() })
          .catch(() => undefined);
        await waitForLog(server(), (l) => /did not resume/.test(l.msg), from);
        if (intruder) {
          assert.equal(intruder.sessionReused, false);
          assert.equal((await ftp.readAll(intruder)).length, 0, 'no file data on a refused connection');
        }
        assert.ok(ftp.noPendingReplies, 'the refusal does not end the transfer');
        const conn = await ftp.openData(port, { tls: true });
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
      });
    });

    // An ftplib-style upload (STOR, then the ClientHello) offering a wrong session: the server cuts
    // it as soon as its handshake ends, not at the passive timeout (30 s here) when the 522 comes.
    test('an upload connection that does not resume is closed at once; the transfer still waits for the client', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const other = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const raw = await ftp.openData(port, { tls: false });
        await ftp.cmd('STOR refused.txt', 150);
        const refused = await ftp.secureData(raw, await other.waitForSession());
        assert.equal(refused.sessionReused, false);
        refused.stream.resume();
        await withDeadline(refused.closed, ftp.timeoutMs, 'the server to close the refused connection');
        assert.ok(ftp.noPendingReplies, 'the refusal does not end the transfer');
        const conn = await ftp.openData(port, { tls: true });
        await ftp.uploadClean(conn, Buffer.from(BODY));
        await ftp.expect(226);
      });
    });

    test("a data connection that resumes another control connection's TLS session is refused; the owner's still transfers", async () => {
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const other = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const foreign = await ftp
          .openData(port, { tls: true, session: await other.waitForSession() })
          .catch(() => undefined);
        const line = await waitForLog(server(), (l) => /did not resume/.test(l.msg), from);
        // What an administrator needs: a session from another connection, and what makes such clients work.
        assert.match(
          String((line.obj as { because?: string }).because),
          /its control connection did not issue.*--no-require-reuse/,
        );
        if (foreign) assert.equal(foreign.sessionReused, false);
        const conn = await ftp.openData(port, { tls: true });
        await ftp.cmd('RETR file.txt', 150);
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
      });
    });

    test('a client that offers each TLS 1.3 session once, the newest first (OpenSSL, curl), resumes on every data connection', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        await ftp.waitForSession();
        // OpenSSL's client session cache offers a TLS 1.3 session once; the newest unused goes next.
        const unused = [...ftp.tlsSessions];
        for (let i = 1; i <= 4; i++) {
          const session = unused.pop();
          assert.ok(session, `no unused TLS session left for data connection ${i}`);
          const port = await ftp.epsv();
          const conn = await ftp.openData(port, { tls: true, session });
          await ftp.cmd('RETR file.txt', 150);
          assert.equal((await ftp.readAll(conn)).toString(), BODY);
          await ftp.expect(226);
          assert.equal(conn.sessionReused, true, `data connection ${i} resumed`);
          unused.push(...conn.sessions);
        }
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
        // The port keeps listening a while for the client's next PASV/EPSV (PassivePorts' IDLE_MS),
        // so the intruder may connect; it is dropped without a byte (or finds the port closed).
        const intruder = await ftp
          .openData(port, { tls: false, localAddress: '127.0.0.2' })
          .catch(() => undefined);
        await ftp.cmd('RETR file.txt', 150);
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
        if (intruder) assert.equal((await ftp.readAll(intruder)).length, 0, 'nothing reached the intruder');
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
          'PORT 127,0,0,1,0,21',
          'EPRT |1|127.0.0.1|22|',
        ]) {
          const r = await ftp.cmd(line);
          assert.equal(r.code, 504, `${line}: ${r.code} ${textOf(r)}`);
        }
        // A refused PORT leaves no data endpoint behind.
        await ftp.cmd('LIST', 425);
        await ftp.cmd('PORT 1,2,3', 501);
        // RFC 2428 2: 522 names the protocols usable here, as EPSV's does: IPv4 only on an IPv4
        // connection, so an IPv6 address too (a mapped IPv4 one is the client's own, and is taken).
        for (const line of ['EPRT |9|127.0.0.1|50000|', 'EPRT |2|::1|50000|', 'EPSV 2'])
          assert.equal(textOf(await ftp.cmd(line, 522)), 'Network protocol not supported, use (1).', line);
        await ftp.cmd('EPRT |2|::ffff:127.0.0.1|50000|', 200);
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

// Anyone behind the client's address can reach its passive port: a connection that dies before its
// handshake must not end the transfer, nor may silent ones pile up there.
describe('data connections that die or flood before their TLS handshake', { timeout: 120_000 }, () => {
  // Long server timeouts: nothing here may end by them.
  const server = useFerry({ timeouts: { handshakeMs: 600_000, dataConnectMs: 600_000 } });
  before(async () => {
    await writeFile(path.join(server().root, 'file.txt'), BODY);
  });

  /** A connection to `port` from the client's address, made to die by `kill` once connected. */
  const dying = async (ftp: RawFtp, port: number, kill: (raw: net.Socket) => void): Promise<void> => {
    const from = server().logs.length;
    const raw = net.connect({ host: ftp.host, port });
    raw.on('error', () => {});
    await waitEvent(raw, 'connect');
    kill(raw);
    await waitForLog(server(), (l) => /dropped before its TLS handshake/.test(l.msg), from);
    raw.destroy();
  };

  const deaths = {
    'closes (FIN)': (raw: net.Socket) => raw.end(),
    resets: (raw: net.Socket) => raw.resetAndDestroy(),
    'sends plain bytes': (raw: net.Socket) => raw.write('hello, not TLS\r\n'),
  } as const;
  for (const mode of MODES) {
    for (const [how, kill] of Object.entries(deaths)) {
      test(`${mode}: a connection that ${how} before its TLS handshake is dropped; the client's own then transfers`, async () => {
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          await ftp.cmd('TYPE I', 200);
          const port = await ftp.epsv();
          await ftp.cmd('RETR file.txt', 150);
          await dying(ftp, port, kill);
          assert.ok(ftp.noPendingReplies, 'the transfer goes on');
          const conn = await ftp.openData(port, { tls: true });
          assert.equal((await ftp.readAll(conn)).toString(), BODY);
          await ftp.expect(226);
        });
      });
    }

    test(`${mode}: a neighbour's connect and close before the transfer command does not end it`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        await dying(ftp, port, (raw) => raw.end());
        await ftp.cmd('RETR file.txt', 150);
        const conn = await ftp.openData(port, { tls: true });
        assert.equal((await ftp.readAll(conn)).toString(), BODY);
        await ftp.expect(226);
      });
    });

    test(`${mode}: past ${MAX_WAITING_CONNECTIONS} silent connections on one passive port, more are closed at once`, async () => {
      const from = server().logs.length;
      const open: net.Socket[] = [];
      try {
        await withClients(async (track) => {
          const ftp = track(await loggedIn(server(), mode));
          const port = await ftp.epsv();
          // Connected one after the other: the server accepts them in this order.
          for (let i = 0; i < MAX_WAITING_CONNECTIONS + 2; i++) {
            const raw = net.connect({ host: ftp.host, port });
            raw.on('error', () => {});
            raw.resume(); // an end the server sends is read: the socket closes
            open.push(raw);
            await waitEvent(raw, 'connect');
          }
          const extra = open.slice(MAX_WAITING_CONNECTIONS);
          await withDeadline(
            Promise.all(extra.map((s) => waitEvent(s, 'close'))),
            ftp.timeoutMs,
            'the extra ones closed',
          );
          for (const s of extra) assert.equal(s.bytesRead, 0, 'nothing sent on them');
          await waitForLog(server(), (l) => /too many connections from the client/.test(l.msg), from);
          assert.ok(
            open.slice(0, MAX_WAITING_CONNECTIONS).every((s) => !s.closed),
            'the first ones wait for their transfer',
          );
          await ftp.cmd('NOOP', 200);
        });
      } finally {
        for (const s of open) s.destroy();
      }
    });
  }
});

describe('a refused data connection and nobody else', { timeout: 60_000 }, () => {
  const server = useFerry({ timeouts: { dataConnectMs: 1_000 } });
  before(async () => {
    await writeFile(path.join(server().root, 'file.txt'), BODY);
  });

  for (const mode of MODES) {
    test(`${mode}: after a wrong session, the transfer ends at the passive timeout with 522 saying why`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const other = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        await ftp.cmd('RETR file.txt', 150);
        await ftp.openData(port, { tls: true, session: await other.waitForSession() }).catch(() => undefined);
        const r = await ftp.expect(522);
        assert.match(textOf(r), /resume the TLS session/, 'the reply says why');
      });
    });

    test(`${mode}: after a connection that closed before its handshake, 425 at the passive timeout saying so`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        await ftp.cmd('RETR file.txt', 150);
        const raw = net.connect({ host: ftp.host, port });
        raw.on('error', () => {});
        await waitEvent(raw, 'connect');
        raw.end();
        const r = await ftp.expect(425);
        assert.equal(textOf(r), "Can't open data connection: closed before the transfer.");
        raw.destroy();
      });
    });
  }
});

// A client that cannot resume (stock Python ftplib) offers no session at all: waiting for another
// connection from it is waiting for nothing. The passive timeout is far beyond every deadline here,
// so a 522 that waited for it would fail the test.
describe('a data connection offering no TLS session', { timeout: 60_000 }, () => {
  const server = useFerry({ timeouts: { dataConnectMs: 600_000 } });
  before(async () => {
    await writeFile(path.join(server().root, 'file.txt'), BODY);
  });

  for (const mode of MODES) {
    test(`${mode}: a download gets 150, then 522 at once, logged; the next command is answered`, async () => {
      const from = server().logs.length;
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        await ftp.cmd('RETR file.txt', 150);
        const refused = await ftp.openData(port, { tls: true, reuse: false }).catch(() => undefined);
        const r = await ftp.expect(522);
        assert.match(textOf(r), /resume the TLS session/, 'the reply says why');
        const line = await waitForLog(server(), (l) => /did not resume/.test(l.msg), from);
        assert.match(
          String((line.obj as { because?: string }).because),
          /^it offered no TLS session \(a full handshake\)$/,
        );
        if (refused) assert.equal((await ftp.readAll(refused)).length, 0, 'no file data on it');
        await ftp.cmd('NOOP', 200);
        // The session goes on: its own connection transfers.
        assert.equal((await ftp.retrieve('file.txt')).toString(), BODY);
      });
    });

    test(`${mode}: an upload that starts TLS after its 150 (ftplib) gets 522 at once`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('TYPE I', 200);
        const port = await ftp.epsv();
        const raw = await ftp.openData(port, { tls: false });
        await ftp.cmd('STOR none.txt', 150);
        const refused = await ftp.secureData(raw, 'none').catch(() => undefined);
        refused?.stream.resume();
        const r = await ftp.expect(522);
        assert.match(textOf(r), /resume the TLS session/, 'the reply says why');
        await ftp.cmd('NOOP', 200);
      });
    });
  }
});
