/**
 * The signal an authenticator is given aborts when its client goes: a client that hangs up after
 * PASS, or a server closing, stops a slow check (a remote directory, an LDAP bind) instead of
 * leaving it to run for its 30 s.
 */
import { describe, test } from 'node:test';
import type { Authenticator } from '../../src/auth/types.js';
import { withDeadline } from '../support/raw-ftp.js';
import { connectSecure, startServer, useFerry, withClients } from './harness.js';

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
});
