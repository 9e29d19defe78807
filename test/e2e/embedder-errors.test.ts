/**
 * Mistakes an embedder can only make at run time are reported where they happen: a `storageFor`
 * that returns a Promise (an async function) fails the login with a log line that says so, instead
 * of a login that succeeds and then answers 451 to every command.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageBackend } from '../../src/storage/types.js';
import { connectSecure, useFerry, waitForLog, withClients } from './harness.js';

describe('an embedder whose storageFor is async', { timeout: 60_000 }, () => {
  const server = useFerry({
    storageFor: (() => Promise.resolve(new MemoryStorage())) as unknown as () => StorageBackend,
  });

  test('the login is refused (451) and the log names storageFor and why', async () => {
    await withClients(async (track) => {
      const from = server().logs.length;
      const ftp = track(await connectSecure(server(), 'explicit'));
      await ftp.cmd('USER alice', 331);
      const r = await ftp.cmd('PASS secret');
      assert.equal(r.code, 451);
      const line = await waitForLog(server(), (l) => l.msg === 'command failed', from);
      assert.match(String((line.obj as { err?: Error }).err?.message), /storageFor: returned a Promise/);
      await ftp.cmd('PWD', 530); // not logged in
    });
  });
});
