/**
 * 50 concurrent implicit FTPS sessions, each uploading and downloading its own random file: every
 * byte must come back intact and every session ends. (Speed is the benchmark's business, not a
 * test's: no time budget here.)
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { RawFtp } from '../support/raw-ftp.js';
import { assertSameBytes, loggedIn, randomData, useFerry, waitForLog } from './harness.js';

const SESSIONS = 50;
const SIZE = 256 * 1024;

describe('concurrency', { timeout: 120_000 }, () => {
  // 50 sessions of one user from one address at once: above the defaults (16) for connections not
  // logged in and for pending passive ports.
  const server = useFerry({
    limits: {
      maxUnauthenticatedPerAddress: SESSIONS,
      maxPassivePerAddress: SESSIONS,
      maxPassivePerUser: SESSIONS,
    },
  });

  test(`${SESSIONS} concurrent implicit sessions each upload and download a distinct ${SIZE / 1024} KB file`, async () => {
    const files = Array.from({ length: SESSIONS }, () => randomData(SIZE));
    const clients: RawFtp[] = [];
    try {
      await Promise.all(
        files.map(async (body, i) => {
          const ftp = await loggedIn(server(), 'implicit');
          clients.push(ftp);
          await ftp.cmd('TYPE I', 200);
          const name = `session-${i}.bin`;
          const [, done] = await ftp.store(name, body);
          assert.equal(done.code, 226, `session ${i}: ${done.code}`);
          assertSameBytes(await ftp.retrieve(name), body, `session ${i} download`);
          await ftp.quit();
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    for (const [i, body] of files.entries()) {
      assertSameBytes(
        await readFile(path.join(server().root, `session-${i}.bin`)),
        body,
        `session ${i} on disk`,
      );
    }
    const disconnects = (): number => server().logs.filter((l) => l.msg === 'disconnect').length;
    await waitForLog(server(), () => disconnects() >= SESSIONS);
    assert.equal(server().server.sessionCount, 0, 'every session ended');
  });
});
