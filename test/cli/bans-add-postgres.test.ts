/**
 * `ferry bans add` on PostgreSQL (a real PostgreSQL 15, test/support/postgres.ts): written to the
 * database, where a running node follows it and refuses the network; listed and lifted there too.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry, ServeProcess } from '../support/ferry-process.js';
import { TestPostgres } from '../support/postgres.js';
import { greetingFor } from '../support/greeting.js';

let pgc: TestPostgres;
let dir: string;
let config: string;

async function ok(args: string[]): Promise<string> {
  const r = await runFerry(args, undefined, { FERRY_DATABASE_URL: pgc.url });
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('ferry bans add on PostgreSQL', () => {
  before(async () => {
    pgc = await TestPostgres.create();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bans-add-pg-'));
    await mkdir(path.join(dir, 'home'));
    config = path.join(dir, 'ferry.yaml');
    await writeFile(config, `dataDir: ${dir}/data\naccounts:\n  postgres: "${pgc.url}"\n`);
  });
  after(async () => {
    await pgc?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('a network banned through the database is refused by the running node, listed, and lifted', async () => {
    await ok(['db', 'migrate']);
    await ok(['users', 'add', 'dora', '--home', path.join(dir, 'home'), '--config', config]);
    const server = await ServeProcess.start(['--config', config], dir);
    try {
      const added = await ok(['bans', 'add', '127.0.0.8/30', '--force', '--for', '1h', '--config', config]);
      assert.match(added, /^127\.0\.0\.8\/30 banned until .* \(1h00m\)\.\n$/);
      await server.waitForLog(
        (l) => l.msg === 'address banned (shared)' && l.remote === '127.0.0.8/30',
        'the ban followed from the database',
      );
      assert.match(await greetingFor(server.explicitPort, '127.0.0.9'), /^421 .*banned/);
      assert.match(await greetingFor(server.explicitPort, '127.0.0.1'), /^220 /);
      const listed = JSON.parse(await ok(['bans', 'list', '--json', '--config', config])) as {
        address: string;
      }[];
      assert.deepEqual(
        listed.map((b) => b.address),
        ['127.0.0.8/30'],
      );
      assert.match(await ok(['bans', 'rm', '127.0.0.8/30', '--config', config]), /unbanned/);
      await server.waitForLog((l) => l.msg === 'address unbanned (shared)', 'the ban lifted');
      assert.match(await greetingFor(server.explicitPort, '127.0.0.9'), /^220 /);
    } finally {
      await server.stop();
    }
  });
});
