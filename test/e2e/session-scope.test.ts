/**
 * sessionReuseScope 'user' (--session-reuse-scope user): a data connection may also resume a TLS
 * session issued to another control connection of the same user from the same address (rclone
 * shares one session cache between its connections); another user's, or the same user's from
 * another address, stays refused; a session of a connection still logging in resumes once it
 * logs in as the same user. Run over explicit and implicit FTPS. (The default, 'connection',
 * refuses a sibling's session: data-security.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { secureLogin } from '../support/ftps-session.js';
import { MODES, portOf, useFerry, waitForLog, withClients, type Mode } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const BODY = 'one session cache for all connections\n'.repeat(100);

let home: string;
let table: UserTable;
before(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'ferry-scope-'));
  await writeFile(path.join(home, 'file.txt'), BODY);
  const users = ['alice', 'bob'].map((username) => ({ username, password: 'pw', home }));
  table = await testUsers(users);
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('sessionReuseScope: user', { timeout: 120_000 }, () => {
  const server = useFerry(() => ({ authenticator: table, tls: { sessionReuseScope: 'user' } }));

  const login = (mode: Mode, user: string, from?: string): Promise<RawFtp> => {
    const s = server();
    const implicit = mode === 'implicit';
    return secureLogin({ host: s.host, port: portOf(s, mode), implicit, user, password: 'pw', from });
  };

  /**
   * RETR whose data connection offers `session`: the body, or undefined when it was refused. With
   * `meanwhile`, the session is one of a connection still logging in (a client sharing one session
   * cache may offer its ticket first): once the server waits for that login, `meanwhile` logs it in,
   * or not.
   */
  async function retrieveOffering(
    ftp: RawFtp,
    session: Buffer,
    meanwhile?: () => Promise<void>,
  ): Promise<string | undefined> {
    const port = await ftp.epsv();
    await ftp.cmd('RETR file.txt', 150);
    const from = server().logs.length;
    const opening = ftp.openData(port, { tls: true, session }).catch(() => undefined);
    if (meanwhile) {
      const waits = (l: { msg: string }): boolean =>
        l.msg.startsWith('data connection waits for the login of the sibling');
      await waitForLog(server(), waits, from);
      await meanwhile();
    }
    const conn = await opening;
    if (conn?.sessionReused) {
      const body = (await ftp.readAll(conn)).toString();
      await ftp.expect(226);
      return body;
    }
    // Refused (the server closes it; its warning may be rate-limited): the transfer still waits
    // for the client's own connection.
    if (conn) await withDeadline(conn.closed, ftp.timeoutMs, 'the refused connection to close');
    const own = await ftp.openData(port, { tls: true });
    assert.equal((await ftp.readAll(own)).toString(), BODY);
    await ftp.expect(226);
    return undefined;
  }

  /** A control connection with TLS up (its session issued), not logged in. */
  const arriving = async (mode: Mode): Promise<RawFtp> => {
    const s = server();
    const ftp = await RawFtp.connect({ host: s.host, port: portOf(s, mode), implicit: mode === 'implicit' });
    await ftp.expect(220);
    if (mode === 'explicit') assert.equal((await ftp.authTls('TLS')).code, 234);
    return ftp;
  };

  for (const mode of MODES) {
    test(`${mode}: a session of the same user's other control connection resumes and transfers`, async () => {
      await withClients(async (track) => {
        const ftp = track(await login(mode, 'alice'));
        const sibling = track(await login(mode, 'alice'));
        assert.equal(await retrieveOffering(ftp, await sibling.waitForSession()), BODY);
      });
    });

    test(`${mode}: another user's session, the same user's from another address, or a closed sibling's is refused`, async () => {
      await withClients(async (track) => {
        const ftp = track(await login(mode, 'alice'));
        const bob = track(await login(mode, 'bob'));
        assert.equal(await retrieveOffering(ftp, await bob.waitForSession()), undefined, "bob's");
        const elsewhere = track(await login(mode, 'alice', '127.0.0.2'));
        assert.equal(
          await retrieveOffering(ftp, await elsewhere.waitForSession()),
          undefined,
          "alice's from 127.0.0.2",
        );
        const gone = await login(mode, 'alice');
        const session = await gone.waitForSession();
        const from = server().logs.length;
        await gone.cmd('QUIT', 221);
        await gone.close();
        await waitForLog(server(), (l) => l.msg === 'disconnect', from);
        assert.equal(await retrieveOffering(ftp, session), undefined, 'a closed connection');
      });
    });

    test(`${mode}: a session of a connection still logging in resumes once it logs in as the same user`, async () => {
      await withClients(async (track) => {
        const ftp = track(await login(mode, 'alice'));
        const sibling = track(await arriving(mode));
        const session = await sibling.waitForSession();
        assert.equal(await retrieveOffering(ftp, session, () => sibling.login('alice', 'pw')), BODY);
      });
    });

    test(`${mode}: a session of a connection still logging in is refused once it logs in as another user, or leaves`, async () => {
      await withClients(async (track) => {
        const ftp = track(await login(mode, 'alice'));
        const bob = track(await arriving(mode));
        const bobs = await bob.waitForSession();
        assert.equal(await retrieveOffering(ftp, bobs, () => bob.login('bob', 'pw')), undefined, 'bob');
        const gone = track(await arriving(mode));
        const leaves = async (): Promise<void> => {
          await gone.cmd('QUIT', 221);
          await gone.close();
        };
        assert.equal(await retrieveOffering(ftp, await gone.waitForSession(), leaves), undefined, 'left');
      });
    });
  }
});
