/**
 * The signal an authenticator is given aborts when its client goes: a client that hangs up after
 * PASS, or a server closing, stops a slow check (a remote directory, an LDAP bind) instead of
 * leaving it to run for its 30 s. A check that never ends, signal or not, holds up only its client.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthOutcome, Authenticator } from '../../src/auth/types.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { connectSecure, startServer, useFerry, waitForLog, withClients } from './harness.js';

/** An authenticator that answers only when its signal aborts; each call's abort is awaitable. */
function hangingAuthenticator(): {
  authenticator: Authenticator;
  called: Promise<{ aborted: Promise<void> }>;
} {
  let onCall: (call: { aborted: Promise<void> }) => void = () => {};
  const called = new Promise<{ aborted: Promise<void> }>((resolve) => (onCall = resolve));
  const authenticator: Authenticator = {
    authenticate(_c, signal) {
      const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      onCall({ aborted });
      return aborted.then(() => ({ ok: false, reason: 'aborted' }));
    },
  };
  return { authenticator, called };
}

describe('the authenticator signal', { timeout: 60_000 }, () => {
  const first = hangingAuthenticator();
  const server = useFerry({ authenticator: first.authenticator });

  test('aborts when the client hangs up during its password check', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'implicit'));
      await ftp.cmd('USER ann', 331);
      ftp.send('PASS secret');
      const { aborted } = await withDeadline(first.called, ftp.timeoutMs, 'the password check');
      ftp.socket.destroy();
      await withDeadline(aborted, ftp.timeoutMs, 'the signal to abort');
    });
  });

  test('aborts when the server closes during a password check', async () => {
    const second = hangingAuthenticator();
    const ts = await startServer({ authenticator: second.authenticator });
    try {
      const ftp = await connectSecure(ts, 'explicit');
      try {
        await ftp.cmd('USER ann', 331);
        ftp.send('PASS secret');
        const { aborted } = await withDeadline(second.called, ftp.timeoutMs, 'the password check');
        const closing = ts.close();
        await withDeadline(aborted, ftp.timeoutMs, 'the signal to abort');
        await closing;
      } finally {
        await ftp.close();
      }
    } finally {
      await ts.close();
    }
  });

  test("a check the server's close cut short is not the client's failed login", async () => {
    const third = hangingAuthenticator();
    const ts = await startServer({ authenticator: third.authenticator });
    try {
      const ftp = await connectSecure(ts, 'explicit');
      try {
        await ftp.cmd('USER hang', 331);
        ftp.send('PASS secret');
        await withDeadline(third.called, ftp.timeoutMs, 'the password check');
        const closing = ts.server.close();
        await ftp.expect(421);
        await closing;
        // Was `login failed` with failures 1 and "the client left" (counted, and what fail2ban reads).
        const line = await waitForLog(ts, (l) => /^login (failed|not possible now)$/.test(l.msg));
        assert.equal(line.msg, 'login not possible now');
        const { user, reason, failures } = line.obj as Record<string, unknown>;
        assert.deepEqual(
          { user, reason, failures },
          {
            user: 'hang',
            reason: 'password check dropped: the server is shutting down',
            failures: undefined,
          },
        );
      } finally {
        await ftp.close();
      }
    } finally {
      await ts.close();
    }
  });
});

describe('an authenticator that never answers (a directory server called without a timeout)', () => {
  let calls = 0;
  let bothHanging: () => void = () => {};
  const hanging = new Promise<void>((resolve) => (bothHanging = resolve));
  const authenticator: Authenticator = {
    authenticate(c) {
      if (c.username !== 'hang')
        return Promise.resolve({ ok: true, principal: { username: c.username, home: '', readOnly: true } });
      if (++calls === 2) bothHanging();
      return new Promise<AuthOutcome>(() => {}); // ignores its signal too
    },
  };
  const server = useFerry({ authenticator, storageFor: () => new MemoryStorage() });

  /** Connected from `localAddress` over implicit FTPS, USER sent. */
  async function from(localAddress: string, user: string, track: (c: RawFtp) => RawFtp): Promise<RawFtp> {
    const ts = server();
    const ftp = track(
      await RawFtp.connect({ host: ts.host, port: ts.implicitPort, implicit: true, localAddress }),
    );
    await ftp.expect(220);
    await ftp.cmd(`USER ${user}`, 331);
    return ftp;
  }

  test('holds the password-check slots only until its clients hang up', async () => {
    await withClients(async (track) => {
      // Two such checks take both slots (maxPasswordChecks 2, one per address)...
      const hung = [await from('127.0.0.1', 'hang', track), await from('127.0.0.2', 'hang', track)];
      for (const ftp of hung) ftp.send('PASS pw');
      await withDeadline(hanging, 10_000, 'both hanging checks to start');
      // ... a login from elsewhere waits its turn; their clients give up: it gets it.
      const good = await from('127.0.0.3', 'bob', track);
      good.send('PASS pw');
      for (const ftp of hung) ftp.socket.destroy();
      await good.expect(230);
    });
  });
});
