/**
 * Mistakes an embedder can only make at run time are reported where they happen: a `storageFor`
 * that returns a Promise (an async function) fails the login (421) with a log line that says so,
 * instead of a login that succeeds and then answers 451 to every command. An `onTransfer` hook that fails
 * (throws, or rejects when async) is logged and changes no reply: the transfer is done.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageBackend } from '../../src/storage/types.js';
import type { TransferRecord } from '../../src/server/options.js';
import { connectSecure, loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

describe('an embedder whose storageFor is async', { timeout: 60_000 }, () => {
  const server = useFerry({
    storageFor: (() => Promise.resolve(new MemoryStorage())) as unknown as () => StorageBackend,
  });

  test('the login is refused (421: accounts unavailable) and the log names storageFor and why', async () => {
    await withClients(async (track) => {
      const from = server().logs.length;
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('USER alice', 331);
      const r = await ftp.cmd('PASS secret');
      assert.equal(r.code, 421);
      const line = await waitForLog(server(), (l) => l.level === 'error', from);
      assert.match(line.msg, /storageFor: returned a Promise/);
      await ftp.closed; // not logged in: the server closed the connection
    });
  });
});

describe('an embedder whose onTransfer hook fails', { timeout: 60_000 }, () => {
  /** The hook of the transfer to come: an audit database that is down. */
  let hook: (r: TransferRecord) => void = () => {};
  const server = useFerry({ storageFor: () => new MemoryStorage(), onTransfer: (r) => hook(r) });

  const failing: Record<string, (r: TransferRecord) => void> = {
    throws: () => {
      throw new Error('audit db down');
    },
    'is async and rejects': async () => {
      throw new Error('audit db down');
    },
  };
  for (const [kind, fails] of Object.entries(failing)) {
    test(`a hook that ${kind}: the APPE still gets 226, the failure is logged once (warn)`, async () => {
      await withClients(async (track) => {
        const from = server().logs.length;
        const ftp = track(await loggedIn(server(), 'explicit'));
        await ftp.cmd('TYPE I', 200);
        hook = fails;
        const [, r] = await ftp.store('log.txt', Buffer.from('line\n'), 'APPE');
        hook = () => {};
        assert.equal(r.code, 226, textOf(r));
        const line = await waitForLog(server(), (l) => l.msg === 'onTransfer hook failed', from);
        assert.equal(line.level, 'warn');
        assert.deepEqual(line.obj, { ...line.obj, command: 'APPE', err: 'audit db down' });
        await ftp.cmd('NOOP', 200); // the session goes on; the failure was reported once, and only there
        const reported = server()
          .logs.slice(from)
          .filter((l) => JSON.stringify(l).includes('audit db down'));
        assert.equal(reported.length, 1, JSON.stringify(reported));
      });
    });
  }
});
