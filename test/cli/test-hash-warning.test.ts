/**
 * FERRY_TEST_SCRYPT_COST (for test suites: cheap hashes) weakens every password hash the server
 * makes from then on, and a hash keeps its cost: left in a real server's environment it must be
 * said at start, in the log an administrator reads.
 */
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { spawnFerry } from '../support/ferry-process.js';

test('ferry serve warns at start when the test hash cost is set', async () => {
  // spawnFerry sets the tests' cheap cost (TEST_HASH_ENV) for every server it starts.
  const ferry = await spawnFerry({ stdout: 'pipe' });
  try {
    assert.ok(ferry.stdout);
    let warned: Record<string, unknown> | undefined;
    for await (const line of createInterface({ input: ferry.stdout })) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'weak password hashes: a test setting is set') {
        warned = entry;
        break;
      }
    }
    assert.equal(warned?.FERRY_TEST_SCRYPT_COST, '16,1,1');
    assert.equal(warned?.level, 40); // pino's warn
  } finally {
    await ferry.stop();
  }
});
