/**
 * `ferry serve` and a PostgreSQL that accepts connections and never answers (a hung host, the
 * postmaster stopped by SIGSTOP), played by sockets the test owns: at start the node gives up with
 * exit 1 and says so, as when the database refuses connections; a SIGTERM during that start stops
 * it; and a running node given SIGTERM exits, cutting the connections its database does not answer
 * on and logging what it could not write. Before, each of these waited for the database for ever
 * (only SIGKILL ended the process). The tests' timeouts only guard such a hang.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry, serveArgv, ServeProcess } from '../support/ferry-process.js';
import { FreezableProxy, SilentListener } from '../support/hung-database.js';
import { TestPostgres } from '../support/postgres.js';
import { RawFtp } from '../support/raw-ftp.js';
import { addUserWith } from '../support/users-cli.js';

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

for (const workers of ['1', '2']) {
  test(
    `--workers ${workers}: a SIGTERM stops a node whose database stopped answering; what it could not write is logged`,
    { timeout: 120_000 },
    async () => {
      const pg = await TestPostgres.create();
      const proxy = await FreezableProxy.open(path.join(pg.dir, '.s.PGSQL.5432'));
      const own = path.join(dir, `running-${workers}`);
      let server: ServeProcess | undefined;
      try {
        await mkdir(own);
        const config = path.join(own, 'ferry.yaml');
        const url = `postgres://ferry@127.0.0.1:${proxy.port}/${pg.databaseName}`;
        await writeFile(
          config,
          `dataDir: ${own}/data\naccounts:\n  postgres: "${url}"\nstopGraceSeconds: 5\n`,
        );
        server = await ServeProcess.start(['--config', config, '--workers', workers], own);
        // A session limit: the login takes a lease in the database, which the stop gives back.
        await addUserWith(config, path.join(own, 'homes'), 'leased', '--max-sessions', '2');
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
        await ftp.expect(220);
        await ftp.login('leased', 'pw');
        proxy.freeze();
        const code = await server.stop('SIGTERM');
        await ftp.close().catch(() => {});
        assert.equal(code, 0);
        const msgs = server.log.map((l) => l.msg);
        assert.ok(
          msgs.includes('database did not answer at the stop: its connections are cut'),
          msgs.join('\n'),
        );
        assert.ok(
          msgs.some((m) => typeof m === 'string' && m.startsWith('session leases not ended at shutdown')),
          msgs.join('\n'),
        );
      } finally {
        if (server) await server.stop('SIGKILL');
        await proxy.close();
        await pg.destroy();
      }
    },
  );
}
