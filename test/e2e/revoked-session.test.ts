/**
 * A session whose account is removed while it runs is told `421 Account no longer available` and
 * ends then, though its client keeps its socket open (ftplib does after an error reply): it holds
 * no place under maxSessions, so another user logs in at once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, test } from 'node:test';
import type { AccountListener, Authenticator } from '../../src/auth/types.js';
import { UserTable } from '../../src/auth/users.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { withDeadline } from '../support/raw-ftp.js';
import { connectKeepingOpen, connectSecure, MODES, textOf, useFerry, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

// A server per mode: with maxSessions 1, a session of the other mode's test may still be leaving.
for (const mode of MODES) {
  describe(`${mode}: an account removed while its session runs`, { timeout: 60_000 }, () => {
    let table: UserTable;
    /** The server's listener of account changes (a users-file reload tells it the same way). */
    let tell: AccountListener | undefined;
    before(async () => {
      table = await testUsers([
        { username: 'ann', password: 'pw', home: '/tenant' },
        { username: 'ben', password: 'pw', home: '/tenant' },
      ]);
    });
    const authenticator: Authenticator = {
      authenticate: (c, signal) => table.authenticate(c, signal),
      watch: (listener) => {
        tell = listener;
        return () => (tell = undefined);
      },
    };
    // Their home '/tenant' is no host directory: memory storage.
    const server = useFerry(() => ({
      authenticator,
      storageFor: () => new MemoryStorage(),
      limits: { maxSessions: 1 },
    }));

    test(`its 421 ends the session though the client keeps its socket: another user logs in (maxSessions 1)`, async () => {
      const ts = server();
      await withClients(async (track) => {
        const ann = track(await connectKeepingOpen(ts, mode));
        const fin = once(ann.socket, 'end');
        await ann.login('ann', 'pw');
        assert.ok(tell, 'the server watches the accounts');
        tell('ann', undefined);
        assert.equal(textOf(await ann.expect(421)), 'Account no longer available, closing.');
        await withDeadline(fin, 5_000, "the server's FIN after the 421");
        assert.ok(!ann.socket.destroyed, 'the client still holds its socket');

        const ben = track(await connectSecure(ts, mode));
        await ben.login('ben', 'pw');
      });
    });
  });
}
