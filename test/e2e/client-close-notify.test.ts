/**
 * A client's close_notify on the control connection, TCP left open, is the client leaving (RFC
 * 5246 7.2.1; under TLS 1.3 it can send no more commands): the server answers with its own
 * close_notify and FIN at once and the session stops counting (maxSessions 1 lets the next login
 * in). One that is part of CCC or REIN, sent before their reply, is not.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type tls from 'node:tls';
import { describe, test } from 'node:test';
import { withDeadline } from '../support/raw-ftp.js';
import { connectKeepingOpen, connectSecure, MODES, textOf, useFerry, withClients } from './harness.js';

/** Bounds waits on events that come at once when the server does its part. */
const EVENT_MS = 5_000;
const VERSIONS: readonly tls.SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

// A server per test: with maxSessions 1, a session of the test before may still be leaving.
for (const mode of MODES) {
  for (const version of VERSIONS) {
    describe(`${mode}, ${version}: the client's close_notify`, { timeout: 60_000 }, () => {
      const server = useFerry({ limits: { maxSessions: 1 } });

      test('answered with close_notify and FIN; the session no longer counts', async () => {
        const ts = server();
        await withClients(async (track) => {
          const a = track(await connectKeepingOpen(ts, mode, version));
          const fin = once(a.socket, 'end');
          await a.login(ts.user, ts.password);
          await a.stopTls(); // close_notify; TCP stays open
          await withDeadline(a.peerEndedTls, EVENT_MS, "the server's close_notify");
          await withDeadline(fin, EVENT_MS, "the server's FIN");
          assert.ok(!a.socket.destroyed, 'the client still holds its socket');

          const b = track(await connectSecure(ts, mode, version));
          await b.login(ts.user, ts.password);
        });
      });
    });
  }
}

describe('explicit: a close_notify that is part of CCC', { timeout: 60_000 }, () => {
  const server = useFerry({ allowCcc: true });

  test('sent before the 200: the connection goes on in clear', async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await connectKeepingOpen(ts, 'explicit'));
      await ftp.login(ts.user, ts.password);
      // CCC and the close_notify leave in one segment: the server reads both before CCC runs.
      ftp.socket.cork();
      ftp.send('CCC');
      await ftp.stopTls(); // the 200 arrives inside the TLS session the client is leaving
      ftp.socket.uncork();
      await withDeadline(ftp.peerEndedTls, EVENT_MS, "the server's close_notify after CCC");
      const r = await ftp.cmd('NOOP', 200);
      assert.ok(!ftp.secure, textOf(r));
    });
  });

  test('sent after the 200 with the next command in clear behind it: that command is answered', async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await connectKeepingOpen(ts, 'explicit'));
      await ftp.login(ts.user, ts.password);
      await ftp.cmd('CCC', 200);
      // The server waits for this close_notify before sending its own (lftp's order); what follows
      // it in the same segment is clear text, not TLS.
      ftp.socket.cork();
      await ftp.stopTls();
      ftp.send('NOOP');
      ftp.socket.uncork();
      await withDeadline(ftp.peerEndedTls, EVENT_MS, "the server's close_notify after CCC");
      assert.equal(textOf(await ftp.expect(200)), 'NOOP ok.');
      const r = await ftp.cmd('PWD', 257);
      assert.ok(!ftp.secure, textOf(r));
    });
  });
});

describe('implicit: a close_notify that is part of REIN', { timeout: 60_000 }, () => {
  const server = useFerry({});

  test('sent before the 220: a new handshake on the same connection, a new greeting', async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await connectKeepingOpen(ts, 'implicit'));
      await ftp.login(ts.user, ts.password);
      ftp.socket.cork(); // REIN and the close_notify in one segment, as above
      ftp.send('REIN');
      await ftp.stopTls(); // REIN's 220 arrives inside the TLS session the client is leaving
      ftp.socket.uncork();
      await withDeadline(ftp.peerEndedTls, EVENT_MS, "the server's close_notify after REIN");
      await ftp.startTls();
      await ftp.expect(220);
      await ftp.login(ts.user, ts.password);
    });
  });
});

describe('implicit: a close_notify sent with a CCC that is refused', { timeout: 60_000 }, () => {
  const server = useFerry({});

  test('the CCC refused, the client has left: close_notify and FIN', async () => {
    const ts = server();
    await withClients(async (track) => {
      const ftp = track(await connectKeepingOpen(ts, 'implicit'));
      const fin = once(ftp.socket, 'end');
      await ftp.login(ts.user, ts.password);
      ftp.socket.cork(); // as above: the server reads both before CCC runs (533 on implicit FTPS)
      ftp.send('CCC');
      await ftp.stopTls();
      ftp.socket.uncork();
      await withDeadline(ftp.peerEndedTls, EVENT_MS, "the server's close_notify");
      await withDeadline(fin, EVENT_MS, "the server's FIN");
    });
  });
});

describe("implicit: the client's close_notify during an upload", { timeout: 60_000 }, () => {
  const server = useFerry({ limits: { maxSessions: 1 } });

  test('as at a lost control connection: the transfer ends, its data connection closed', async () => {
    const ts = server();
    await withClients(async (track) => {
      const a = track(await connectKeepingOpen(ts, 'implicit'));
      await a.login(ts.user, ts.password);
      a.send('TYPE I');
      await a.expect(200);
      const plain = await a.openData(await a.epsv(), { tls: false });
      await a.cmd('STOR left.bin', 150);
      const data = await a.secureData(plain);
      data.stream.write(Buffer.alloc(1024)); // begun, never finished
      await a.stopTls();
      await withDeadline(a.peerEndedTls, EVENT_MS, "the server's close_notify");
      await withDeadline(data.closed, EVENT_MS, "the upload's data connection to close");

      const b = track(await connectSecure(ts, 'implicit'));
      await b.login(ts.user, ts.password);
    });
  });
});
