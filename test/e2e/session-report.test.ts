/**
 * FerryServer.sessions() (the admin listener's GET /sessions) while commands that move no data run:
 * a password check shows PASS and nothing of the password; an MKD stuck in its storage shows its
 * path, taken against the cwd (a listing's without its ls options); both count as busy (idle 0), and each is idle again once answered.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { Authenticator } from '../../src/auth/types.js';
import type { SessionReport } from '../../src/server/session-report.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat } from '../../src/storage/types.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { connectSecure, loginAs, useFerry, waitForLog, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

/** Resolves `entered` when called, and settles only once `release()` is called. */
function gate(): { entered: Promise<void>; pass: () => Promise<void>; release: () => void } {
  let enter = (): void => {};
  let release = (): void => {};
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, release, pass: () => (enter(), released) };
}

const password = gate();
const mkdir = gate();
const held = gate();

class GatedStorage extends MemoryStorage {
  override async mkdir(...args: Parameters<MemoryStorage['mkdir']>): Promise<void> {
    await mkdir.pass();
    return super.mkdir(...args);
  }

  override async stat(...args: Parameters<MemoryStorage['stat']>): Promise<FileStat> {
    if (args[0] === '/docs/held') await held.pass();
    return super.stat(...args);
  }
}

describe('the session report of commands without data', { timeout: 60_000 }, () => {
  const storage = new GatedStorage({ files: { '/docs/.keep': '', '/docs/held/a.txt': 'a' } });
  let users: Authenticator | undefined;
  const slowPassword: Authenticator = {
    async authenticate(c, signal) {
      users ??= await testUsers([{ username: 'alice', password: 'hunter2-password', home: '/' }]);
      if (c.username === 'slow') await password.pass();
      return users.authenticate({ ...c, username: 'alice' }, signal);
    },
  };
  const server = useFerry({ authenticator: slowPassword, storageFor: () => storage });
  const of = (ftp: RawFtp): SessionReport => {
    const s = server()
      .server.sessions()
      .find((x) => x.port === ftp.socket.localPort);
    assert.ok(s, 'the client has a session');
    return s;
  };

  test('PASS being checked: the verb, never the password; then logged in and idle', async () => {
    await withClients(async (track) => {
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('USER slow', 331);
      ftp.send('PASS hunter2-password');
      await withDeadline(password.entered, ftp.timeoutMs, 'the password check');
      const checking = of(ftp);
      assert.deepEqual(
        { user: checking.user, idle: checking.idleSeconds, doing: checking.doing, tls: checking.tls },
        {
          user: null,
          idle: 0,
          doing: {
            command: 'PASS',
            path: null,
            bytes: null,
            bytesPerSecond: null,
            sinceProgressSeconds: null,
            direction: null,
          },
          tls: true,
        },
      );
      assert.ok(!JSON.stringify(checking).includes('hunter2'));
      password.release();
      await ftp.expect(230);
      const after = of(ftp);
      assert.deepEqual([after.user, after.doing], ['alice', null]);
    });
  });

  test('an implicit-port connection that has not completed its handshake is not reported as TLS', async () => {
    const ts = server();
    const from = ts.logs.length;
    // A port scanner: connects and sends nothing, so the server's handshake waits for a ClientHello.
    const scanner = net.connect({ host: ts.host, port: ts.implicitPort });
    try {
      await once(scanner, 'connect');
      await waitForLog(ts, (l) => l.msg === 'connect' && 'mode' in l.obj && l.obj.mode === 'implicit', from);
      const s = ts.server.sessions().find((x) => x.port === scanner.localPort);
      assert.ok(s, 'the scanner has a session');
      assert.deepEqual(
        { mode: s.mode, tls: s.tls, user: s.user },
        { mode: 'implicit', tls: false, user: null },
      );
    } finally {
      scanner.destroy();
    }
    await withClients(async (track) => {
      const ftp = track(await connectSecure(ts, 'implicit'));
      assert.equal(of(ftp).tls, true, 'once the handshake completed');
    });
  });

  test('MKD stuck in its storage: its path against the cwd', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'implicit', 'alice', track, 'hunter2-password');
      await ftp.cmd('CWD /docs', 250);
      ftp.send('MKD new dir');
      await withDeadline(mkdir.entered, ftp.timeoutMs, 'the MKD in storage');
      const s = of(ftp);
      assert.deepEqual(
        { idle: s.idleSeconds, doing: s.doing, mode: s.mode },
        {
          idle: 0,
          doing: {
            command: 'MKD',
            path: '/docs/new dir',
            bytes: null,
            bytesPerSecond: null,
            sinceProgressSeconds: null,
            direction: null,
          },
          mode: 'implicit',
        },
      );
      mkdir.release();
      await ftp.expect(257);
      assert.equal(of(ftp).doing, null);
    });
  });

  test('a listing with ls options (STAT -la held): the path it lists, without the options', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'alice', track, 'hunter2-password');
      await ftp.cmd('CWD /docs', 250);
      ftp.send('STAT -la held');
      await withDeadline(held.entered, ftp.timeoutMs, 'the listing in storage');
      assert.deepEqual(of(ftp).doing, {
        command: 'STAT',
        path: '/docs/held',
        bytes: null,
        bytesPerSecond: null,
        sinceProgressSeconds: null,
        direction: null,
      });
      held.release();
      await ftp.expect(212);
    });
  });
});
