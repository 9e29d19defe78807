/**
 * A connection not logged in within timeouts.loginMs is told `421 Login timeout`, then the server
 * closes (close_notify, FIN) and the session ends then, though the client keeps its socket open:
 * it holds no place under maxSessions, so the next login is let in.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, test } from 'node:test';
import type { Authenticator } from '../../src/auth/types.js';
import { UserTable } from '../../src/auth/users.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { withDeadline } from '../support/raw-ftp.js';
import {
  clearAfterTls,
  connectKeepingOpen,
  connectSecure,
  MODES,
  textOf,
  useFerry,
  waitForLog,
  withClients,
} from './harness.js';
import { testUsers } from '../support/test-hashes.js';

/**
 * Long enough for a fresh login (TLS handshake, USER, PASS) to finish under it on a loaded machine:
 * the test logs in again on the same server once the idle session is gone (at 500 ms, CI running
 * beside other work saw that login itself time out).
 */
const LOGIN_MS = 2_000;
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

for (const mode of MODES) {
  describe(`${mode}: a PASS answered as the login timeout fires`, { timeout: 60_000 }, () => {
    let table: UserTable;
    before(async () => {
      table = await testUsers([{ username: 'ann', password: 'pw', home: '/tenant' }]);
    });
    // Answers PASS (a valid login) only once the timeout has fired: its 230 races the 421's close.
    const authenticator: Authenticator = {
      authenticate: async (c, signal) => {
        const outcome = await table.authenticate(c, signal);
        await waitForLog(server(), (l) => l.msg === 'login timeout', 0, LOGIN_MS + EVENT_MS);
        return outcome;
      },
    };
    const server = useFerry(() => ({
      authenticator,
      storageFor: () => new MemoryStorage(), // no disk: the 230 is ready at once
      timeouts: { loginMs: LOGIN_MS },
    }));

    test('only the 421 is sent, inside TLS; then close_notify and FIN, nothing after them', async () => {
      await withClients(async (track) => {
        const ftp = track(await connectKeepingOpen(server(), mode));
        const fin = once(ftp.socket, 'end');
        await ftp.cmd('USER ann', 331);
        ftp.send('PASS pw');
        const r = await ftp.expect(421, LOGIN_MS + EVENT_MS);
        assert.equal(textOf(r), 'Login timeout, closing control connection.');
        await withDeadline(fin, EVENT_MS, "the server's FIN after the 421");
        assert.equal(clearAfterTls(ftp, mode), '', 'bytes outside TLS on the control connection');
        await withDeadline(ftp.peerEndedTls, EVENT_MS, "the server's close_notify after the 421");
        assert.ok(ftp.noPendingReplies, `nothing after the 421\n${ftp.dump()}`);
      });
    });
  });
}
