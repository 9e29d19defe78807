/**
 * `ferry serve` started while its database cannot be reached: it does not come up (it reconnects by
 * itself only once running), and says that this happened at start and what to do, without the
 * URL's password.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runFerry } from '../support/ferry-process.js';
import { freePorts } from '../support/ports.js';

test('a node started while its database refuses connections says so, and what to do', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-db-unreachable-'));
  try {
    // A port free a moment ago, nothing listening there: the connection is refused.
    const [port] = (await freePorts(1)) as [number];
    const r = await runFerry(
      [
        'serve',
        '--allow-root',
        '--listen',
        '127.0.0.1',
        '--explicit-port',
        '0',
        '--implicit-port',
        '0',
        '--data-dir',
        dir,
      ],
      undefined,
      { FERRY_DATABASE_URL: `postgres://ferry:s3cret@127.0.0.1:${port}/ferry` },
    );
    assert.equal(r.code, 1, r.stderr); // not 2: the unit restarts 1, not a configuration error
    assert.match(r.stderr, /cannot be reached at start \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
    assert.match(
      r.stderr,
      /a node needs its database to start; start PostgreSQL or correct accounts\.postgres/,
    );
    assert.match(r.stderr, /postgres:\/\/ferry:\*\*\*\*@127\.0\.0\.1/, 'the URL, its password hidden');
    assert.doesNotMatch(r.stderr, /s3cret/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
