/**
 * Per-user limits at login (issue 9): disabled, expired or outside allowFrom is refused at PASS with
 * the same `530 Login incorrect.` as a wrong password; the log says why. Over maxSessions, with the
 * right password, gets a 421 that says so (FileZilla and lftp retry later, not ask for a password).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { connectSecure, MODES, textOf, useFerry, waitForLog, withClients, type Mode } from './harness.js';
import type { TestServer } from '../support/ferry.js';
import { withDeadline, type RawFtp } from '../support/raw-ftp.js';
import { testHash, testUsers } from '../support/test-hashes.js';

async function attempt(ts: TestServer, mode: Mode, user: string, password: string): Promise<RawFtp> {
  const ftp = await connectSecure(ts, mode);
  await ftp.cmd(`USER ${user}`, 331);
  ftp.send(`PASS ${password}`);
  return ftp;
}

for (const mode of MODES) {
  describe(`${mode}: per-user limits at login`, { timeout: 60_000 }, () => {
    let table: UserTable;
    before(async () => {
      const passwordHash = await testHash('pw');
      const user = (username: string, extra: object) => ({
        username,
        passwordHash,
        home: '/tenant',
        ...extra,
      });
      table = new UserTable([
        user('dis', { disabled: true }),
        user('old', { expires: '2001-01-01T00:00:00.000Z' }),
        user('far', { allowFrom: ['10.0.0.0/8', '2001:db8::/32'] }),
        user('near', { allowFrom: ['127.0.0.0/8'], expires: '2999-01-01T00:00:00.000Z' }),
        user('one', { maxSessions: 1 }),
      ]);
    });
    // Their home '/tenant' is no host directory (a LocalStorage there would refuse every login).
    const server = useFerry(() => ({ authenticator: table, storageFor: () => new MemoryStorage() }));

    test('each limit gives the wrong-password reply, and the log the reason; too many sessions after a right password gets 421 saying so', async () => {
      await withClients(async (track) => {
        const ts = server();
        const wrong = await track(await attempt(ts, mode, 'near', 'bad')).expect(530);
        assert.equal(textOf(wrong), 'Login incorrect.');
        const held = track(await attempt(ts, mode, 'one', 'pw'));
        await held.expect(230);
        await track(await attempt(ts, mode, 'near', 'pw')).expect(230);
        const cases: [string, RegExp][] = [
          ['dis', /^account disabled$/],
          ['old', /^account expired/],
          ['far', /^address 127\.0\.0\.1 not in allowFrom$/],
        ];
        for (const [user, reason] of cases) {
          const from = ts.logs.length;
          const r = await track(await attempt(ts, mode, user, 'pw')).expect(530);
          assert.equal(textOf(r), textOf(wrong), user);
          const log = await waitForLog(ts, (l) => l.msg === 'login failed', from);
          assert.equal((log.obj as { user?: string }).user, user);
          assert.match(String((log.obj as { reason?: string }).reason), reason, user);
        }
        // Over maxSessions: a wrong password is still the plain 530, a right one is told why.
        assert.equal(textOf(await track(await attempt(ts, mode, 'one', 'bad')).expect(530)), textOf(wrong));
        const from = ts.logs.length;
        const over = track(await attempt(ts, mode, 'one', 'pw'));
        const r = await over.expect(421);
        assert.equal(textOf(r), 'Too many sessions for this user (at most 1), try later.');
        await withDeadline(over.closed, 5_000, 'the server to close the refused session');
        const log = await waitForLog(ts, (l) => l.msg === 'login refused', from);
        assert.equal((log.obj as { reason?: string }).reason, 'too many sessions (maxSessions 1)');
        assert.ok(!ts.logs.slice(from).some((l) => l.msg === 'login failed'), 'no failed login (fail2ban)');
        // The held session of `one` ends (the server has seen it go): its slot is free again.
        const quit = ts.logs.length;
        await held.cmd('QUIT', 221);
        await waitForLog(ts, (l) => l.msg === 'disconnect', quit);
        await track(await attempt(ts, mode, 'one', 'pw')).expect(230);
      });
    });
  });

  // A server of its own: failed-login lines are rate-limited per address (5 a minute), which the
  // test above uses up.
  describe(`${mode}: unknown users at login`, { timeout: 60_000 }, () => {
    let table: UserTable;
    before(async () => {
      table = await testUsers([{ username: 'near', password: 'pw', home: '/' }]);
    });
    const server = useFerry(() => ({ authenticator: table, storageFor: () => new MemoryStorage() }));

    test('an unknown user gets the wrong-password reply; only the log line tells it apart (unknownUser)', async () => {
      await withClients(async (track) => {
        const ts = server();
        const lines: object[] = [];
        for (const [user, password] of [
          ['near', 'bad'],
          ['nobody', 'pw'],
        ] as const) {
          const from = ts.logs.length;
          const r = await track(await attempt(ts, mode, user, password)).expect(530);
          assert.equal(textOf(r), 'Login incorrect.', user);
          const log = await waitForLog(ts, (l) => l.msg === 'login failed', from);
          const { reason, unknownUser } = log.obj as { reason?: string; unknownUser?: boolean };
          lines.push({ reason, unknownUser });
        }
        assert.deepEqual(lines, [
          { reason: 'invalid username or password', unknownUser: undefined },
          { reason: 'invalid username or password', unknownUser: true },
        ]);
      });
    });
  });
}
