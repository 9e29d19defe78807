/**
 * 50 concurrent implicit FTPS sessions, each uploading and downloading its own random file: every
 * byte must come back intact, and the whole run stays fast.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../support/ferry.js';
import { RawFtp } from '../support/raw-ftp.js';
import {
  assertNoLeaks,
  assertSameBytes,
  loggedIn,
  randomData,
  resourceCounts,
  startServer,
  waitForLog,
  type ResourceCounts,
} from './harness.js';

const SESSIONS = 50;
const SIZE = 256 * 1024;
const BUDGET_MS = 30_000;

let baseline: ResourceCounts;
before(() => {
  baseline = resourceCounts();
});
after(async () => {
  await assertNoLeaks(baseline);
});

describe('concurrency', { timeout: 120_000 }, () => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer();
  });
  after(async () => {
    await ts.close();
  });

  test(`${SESSIONS} concurrent implicit sessions each upload and download a distinct ${SIZE / 1024} KB file`, async () => {
    const files = Array.from({ length: SESSIONS }, () => randomData(SIZE));
    const clients: RawFtp[] = [];
    const started = Date.now();
    try {
      await Promise.all(
        files.map(async (body, i) => {
          const ftp = await loggedIn(ts, 'implicit');
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
    const elapsed = Date.now() - started;
    assert.ok(elapsed < BUDGET_MS, `took ${elapsed} ms (budget ${BUDGET_MS} ms)`);
    for (const [i, body] of files.entries()) {
      assertSameBytes(await readFile(path.join(ts.root, `session-${i}.bin`)), body, `session ${i} on disk`);
    }
    const disconnects = (): number => ts.logs.filter((l) => l.msg === 'disconnect').length;
    await waitForLog(ts, () => disconnects() >= SESSIONS);
    assert.equal(ts.server.sessionCount, 0, 'every session ended');
  });
});
