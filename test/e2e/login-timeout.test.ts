/**
 * A connection not logged in within timeouts.loginMs is told `421 Login timeout`, then the server
 * closes (close_notify, FIN) and the session ends then, though the client keeps its socket open:
 * it holds no place under maxSessions, so the next login is let in.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { withDeadline } from '../support/raw-ftp.js';
import { connectKeepingOpen, connectSecure, MODES, textOf, useFerry, withClients } from './harness.js';

const LOGIN_MS = 500;
/** Bounds waits on events that come at once when the server does its part. */
const EVENT_MS = 5_000;

// A server per mode: with maxSessions 1, a session of the other mode's test may still be leaving.
for (const mode of MODES) {
  describe(`${mode}: the login timeout`, { timeout: 60_000 }, () => {
    const server = useFerry({ limits: { maxSessions: 1 }, timeouts: { loginMs: LOGIN_MS } });

    test('421 says so, the server closes first, and the session no longer counts (maxSessions 1)', async () => {
      const ts = server();
      await withClients(async (track) => {
        const idle = track(await connectKeepingOpen(ts, mode));
        const fin = once(idle.socket, 'end');
        const r = await idle.expect(421, LOGIN_MS + EVENT_MS);
        assert.equal(textOf(r), 'Login timeout, closing control connection.');
        // Told it is a close, not a cut: close_notify, then FIN; the client has closed nothing.
        await withDeadline(idle.peerEndedTls, EVENT_MS, "the server's close_notify after the 421");
        await withDeadline(fin, EVENT_MS, "the server's FIN after the 421");
        assert.ok(!idle.socket.destroyed, 'the client still holds its socket');

        const next = track(await connectSecure(ts, mode));
        await next.login(ts.user, ts.password);
      });
    });
  });
}
