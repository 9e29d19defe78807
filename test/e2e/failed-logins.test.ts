/**
 * Too many wrong passwords on one connection: `421 Too many failed logins, closing.`, then the
 * server closes (close_notify, FIN) without waiting for the client, and the session ends then,
 * though the client keeps its socket open (ftplib does after an error reply): it holds no place
 * under maxSessions, so the next login is let in.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { withDeadline } from '../support/raw-ftp.js';
import { connectKeepingOpen, connectSecure, MODES, textOf, useFerry, withClients } from './harness.js';

/** Bounds waits on events that come at once when the server does its part. */
const EVENT_MS = 5_000;

// A server per mode: with maxSessions 1, a session of the other mode's test may still be leaving.
for (const mode of MODES) {
  describe(`${mode}: too many failed logins on one connection`, { timeout: 60_000 }, () => {
    const server = useFerry({ limits: { maxSessions: 1, maxLoginFailures: 2 } });

    test('421 says so, the server closes first, and the session no longer counts (maxSessions 1)', async () => {
      const ts = server();
      await withClients(async (track) => {
        const guesser = track(await connectKeepingOpen(ts, mode));
        const fin = once(guesser.socket, 'end');
        await guesser.cmd(`USER ${ts.user}`, 331);
        await guesser.cmd('PASS wrong-1', 530);
        await guesser.cmd(`USER ${ts.user}`, 331);
        const r = await guesser.cmd('PASS wrong-2');
        assert.equal(r.code, 421);
        assert.equal(textOf(r), 'Too many failed logins, closing.');
        // Told it is a close, not a cut: close_notify, then FIN; the client has closed nothing.
        await withDeadline(guesser.peerEndedTls, EVENT_MS, "the server's close_notify after the 421");
        await withDeadline(fin, EVENT_MS, "the server's FIN after the 421");
        assert.ok(!guesser.socket.destroyed, 'the client still holds its socket');

        const next = track(await connectSecure(ts, mode));
        await next.login(ts.user, ts.password);
      });
    });
  });
}
