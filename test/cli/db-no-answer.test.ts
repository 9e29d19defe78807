/**
 * `ferry serve` and a PostgreSQL that accepts connections and never answers (a hung host, the
 * postmaster stopped by SIGSTOP), played by sockets the test owns: at start the node gives up with
 * exit 1 and says so, as when the database refuses connections; and a SIGTERM during that start
 * stops it. Before, both waited for the database for ever (only SIGKILL ended the process). The
 * tests' timeouts only guard such a hang.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry, serveArgv } from '../support/ferry-process.js';
import { SilentListener } from '../support/hung-database.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-db-no-answer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const urlTo = (port: number): string => `postgres://ferry:s3cret@127.0.0.1:${port}/postgres`;

test(
  'a node started while its database does not answer exits 1 and says so',
  { timeout: 60_000 },
  async () => {
    const silent = await SilentListener.open();
    try {
      const r = await runFerry(
        ['serve', '--allow-root', '--listen', '127.0.0.1', '--explicit-port', '0', '--implicit-port', '0'],
        undefined,
        { FERRY_DATABASE_URL: urlTo(silent.port), HOME: dir },
      );
      assert.equal(r.code, 1, r.stderr); // as for a refused connection: the unit restarts it
      assert.match(r.stderr, /cannot be reached at start \(no answer within 3 s\)/);
      assert.match(r.stderr, /a node needs its database to start/);
      assert.doesNotMatch(r.stderr, /s3cret/);
    } finally {
      await silent.close();
    }
  },
);

test('a SIGTERM while the start waits for the database stops it: exit 0', { timeout: 60_000 }, async () => {
  const silent = await SilentListener.open();
  try {
    const { argv } = await serveArgv();
    const child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FERRY_DATABASE_URL: urlTo(silent.port), HOME: dir },
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.resume();
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await silent.connected; // the node is waiting for its database's answer
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
    assert.match(stdout, /"signal":"SIGTERM".*"msg":"stopped while starting"/);
  } finally {
    await silent.close();
  }
});
