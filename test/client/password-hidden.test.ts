/**
 * A logged-in client does not show its password to inspect() or JSON.stringify() (logs, crash
 * reports), and still has it for REIN, which logs in again.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { startFerry, type TestServer } from '../support/ferry.js';
import { clientOf } from './helpers.js';

describe('the client keeps its password out of sight', { timeout: 30_000 }, () => {
  let ts: TestServer;
  before(async () => {
    ts = await startFerry();
  });
  after(() => ts?.close());

  it('inspect() and JSON.stringify() do not contain it; REIN still logs in', async () => {
    const c = await clientOf(ts);
    try {
      assert.equal(ts.password, 'secret');
      assert.ok(!inspect(c, { depth: 4 }).includes("'secret'"));
      assert.ok(!JSON.stringify(c).includes('"secret"'));
      assert.equal((await c.reinitialize()).code, 220);
      assert.equal((await c.send('NOOP')).code, 200);
    } finally {
      await c.close();
    }
  });
});
