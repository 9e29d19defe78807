/**
 * `ferry db` and `ferry users` / `ferry bans` / `ferry serve` on PostgreSQL (a real PostgreSQL 15,
 * test/support/postgres.ts): an embedded setup imported with its hashes, served, edited and unbanned
 * through the CLI exactly as with the users file; what cannot log in (anonymous FTP's names) is
 * not imported.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { readUsersFile } from '../../src/auth/users-file.js';
import { runFerry, ServeProcess } from '../support/ferry-process.js';
import { TestPostgres } from '../support/postgres.js';
import { RawFtp } from '../support/raw-ftp.js';
import { testCertificate } from '../support/ferry.js';

let pgc: TestPostgres;
let dir: string;
let config: string;

/** `ferry ARGS` with `env` added (the database URL), `input` on stdin. */
function ferry(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry(args, input, env);
}

async function ok(args: string[], env: Record<string, string> = {}, input?: string): Promise<string> {
  const r = await ferry(args, env, input);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function pass(server: ServeProcess, user: string, password: string): Promise<number> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  try {
    await ftp.expect(220);
    await ftp.cmd(`USER ${user}`, 331);
    return (await ftp.cmd(`PASS ${password}`)).code;
  } finally {
    await ftp.close();
  }
}

describe('ferry db, users and bans on PostgreSQL', () => {
  before(async () => {
    pgc = await TestPostgres.create();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-db-cli-'));
    config = path.join(dir, 'ferry.yaml');
    await writeFile(
      config,
      `dataDir: ${dir}/data\naccounts:\n  postgres: "${pgc.url}"\ndefender:\n  threshold: 2\n`,
    );
  });
  after(async () => {
    await pgc?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('import an embedded setup (hashes kept), serve it, edit and unban through the CLI', async () => {
    const embedded = path.join(dir, 'embedded');
    const home = path.join(dir, 'home');
    await mkdir(home, { recursive: true });
    await ok(
      ['users', 'add', 'dora', '--home', home, '--password-stdin', '--data-dir', embedded],
      {},
      'dora-pw\n',
    );
    const file = path.join(embedded, 'users.yaml');
    const hash = (await readUsersFile(file)).get('dora')?.passwordHash;

    const env = { FERRY_DATABASE_URL: pgc.url };
    assert.match(await ok(['db', 'migrate'], env), /schema at version 5/);
    assert.match(await ok(['db', 'import', file], env), /imported 1 accounts/);
    assert.match(await ok(['db', 'import', file], env), /skipped dora/);
    const client = new pg.Client({ connectionString: pgc.url });
    await client.connect();
    const { rows } = await client.query<{ h: string }>(
      "SELECT data->>'passwordHash' AS h FROM ferry_accounts WHERE username = 'dora'",
    );
    await client.end();
    assert.equal(rows[0]?.h, hash, 'the hash is moved as it is');
    assert.match(await ok(['users', 'list', '--config', config]), /dora\s+enabled/);

    const server = await ServeProcess.start(['--config', config, '--workers', '1'], dir);
    try {
      assert.match(server.banner, /users\s+database postgresql:/);
      assert.equal(await pass(server, 'dora', 'dora-pw'), 230);
      await ok(
        ['users', 'add', 'eve', '--home', home, '--password-stdin', '--config', config],
        {},
        'eve-pw\n',
      );
      assert.equal(await pass(server, 'eve', 'eve-pw'), 230, 'looked up by name at login: no reload needed');
      await ok(['users', 'rm', 'eve', '--config', config]);
      assert.equal(await pass(server, 'eve', 'eve-pw'), 530);

      // Failed logins ban 127.0.0.1 (threshold 2; eve's counted too); `ferry bans` sees it in the database.
      for (let i = 0; i < 2; i++) if ((await pass(server, 'dora', 'bad').catch(() => 0)) === 0) break;
      await server.waitForLog((l) => l.msg === 'address banned', 'the ban');
      let listed = '';
      while (!listed.includes('127.0.0.1')) listed = await ok(['bans', 'list', '--json', '--config', config]);
      assert.match(await ok(['bans', 'rm', '127.0.0.1', '--config', config]), /unbanned/);
      await server.waitForLog(
        (l) => l.msg === 'address unbanned (shared)',
        'the ban lifted through the database',
      );
      assert.equal(await pass(server, 'dora', 'dora-pw'), 230);
    } finally {
      await server.stop();
    }
  });

  test('db import skips, as users import does, a name anonymous FTP answers to while the config enables it', async () => {
    const embedded = path.join(dir, 'embedded-anon');
    const home = path.join(dir, 'home-anon');
    await mkdir(home, { recursive: true });
    for (const name of ['ftp', 'gus'])
      await ok(
        ['users', 'add', name, '--home', home, '--password-stdin', '--data-dir', embedded],
        {},
        'pw\n',
      );
    const anon = path.join(dir, 'anon.yaml');
    await writeFile(
      anon,
      `dataDir: ${dir}/data-anon\naccounts:\n  postgres: "${pgc.url}"\nanonymous:\n  home: ${home}\n`,
    );
    const out = await ok(['db', 'import', path.join(embedded, 'users.yaml'), '--config', anon]);
    assert.match(out, /skipped ftp: .*login name of anonymous FTP/);
    assert.match(out, /imported 1 accounts .*; 1 skipped/);
    const listed = await ok(['users', 'list', '--config', config]);
    assert.match(listed, /gus\s+enabled/);
    assert.doesNotMatch(listed, /^ftp\s/m, 'an account that could never log in is not made');
  });

  test('SIGHUP onto another accounts.postgres: the running database is kept, and the reload says a restart is needed', async () => {
    const home = path.join(dir, 'home-reload');
    await mkdir(home, { recursive: true });
    const reload = path.join(dir, 'reload.yaml');
    await writeFile(reload, `dataDir: ${dir}/data-reload\naccounts:\n  postgres: "${pgc.url}"\n`);
    await ok(['users', 'add', 'fay', '--home', home, '--password-stdin', '--config', reload], {}, 'fay-pw\n');
    const server = await ServeProcess.start(['--config', reload], dir);
    try {
      const elsewhere = 'postgres://ferry:s3cret@127.0.0.1:1/elsewhere';
      await writeFile(reload, `dataDir: ${dir}/data-reload\naccounts:\n  postgres: "${elsewhere}"\n`);
      const from = server.log.length;
      server.child.kill('SIGHUP');
      const outcome = await server.waitForLog(
        (l) => server.log.indexOf(l) >= from && /configuration reload/.test(String(l.msg)),
        'the reload outcome',
      );
      assert.deepEqual(
        outcome.restartNeeded,
        ['accounts.postgres (FERRY_DATABASE_URL)'],
        JSON.stringify(outcome),
      );
      assert.ok(!JSON.stringify(server.log).includes('s3cret'), 'the URL (its password) is not logged');
      assert.equal(await pass(server, 'fay', 'fay-pw'), 230, 'the running database stays in use');
    } finally {
      await server.stop();
    }
  });

  test('certificates given and the accounts in PostgreSQL: a dataDir that does not exist is made at start (0700), its control socket in it', async () => {
    const pair = await testCertificate();
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    await writeFile(certFile, pair.cert);
    await writeFile(keyFile, pair.key);
    const data = path.join(dir, 'fresh', 'data');
    const fresh = path.join(dir, 'fresh.yaml');
    await writeFile(fresh, `dataDir: ${data}\naccounts:\n  postgres: "${pgc.url}"\n`);
    const server = await ServeProcess.start(['--config', fresh, '--cert', certFile, '--key', keyFile], dir);
    try {
      assert.equal((await stat(data)).mode & 0o777, 0o700);
      // Listening on it before the banner: no 'listen EACCES' line, and `ferry bans` reaches it.
      assert.ok((await stat(path.join(data, 'control.sock'))).isSocket());
      assert.deepEqual(
        server.log.filter((l) => Number(l.level) >= 50),
        [],
      );
    } finally {
      await server.stop();
    }
  });

  test('--read-only, --hide-dot-files and --deny-file set and unset an account in the database', async () => {
    const home = path.join(dir, 'hal');
    await mkdir(home, { recursive: true });
    const show = async (): Promise<unknown> =>
      JSON.parse(await ok(['users', 'show', 'hal', '--json', '--config', config])) as unknown;
    await ok(
      ['users', 'add', 'hal', '--home', home, '--password-stdin', '--config', config].concat([
        '--read-only',
        '--no-hide-dot-files',
        '--deny-file',
        '*.exe',
        '--deny-file',
        '.ht*',
      ]),
      {},
      'hal-pw\n',
    );
    assert.deepEqual(await show(), {
      name: 'hal',
      home,
      readOnly: true,
      hideDotFiles: false,
      denyFiles: ['*.exe', '.ht*'],
    });
    await ok(
      ['users', 'set', 'hal', '--config', config].concat([
        '--read-only',
        'default',
        '--hide-dot-files',
        'default',
        '--deny-file',
        '',
      ]),
    );
    assert.deepEqual(await show(), { name: 'hal', home });
  });

  test('a database never migrated: db status says so and what to do, the commands that only read change nothing, one that writes creates the schema', async () => {
    const admin = new pg.Client({ connectionString: pgc.url });
    await admin.connect();
    await admin.query('CREATE DATABASE unmigrated');
    await admin.end();
    const url = pgc.urlOf('unmigrated');
    const env = { FERRY_DATABASE_URL: url };
    const created = async (): Promise<boolean> => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const { rows } = await c.query<{ t: string | null }>("SELECT to_regclass('ferry_schema')::text AS t");
        return rows[0]?.t != null;
      } finally {
        await c.end();
      }
    };

    // A report, not an error (it failed with 'relation "ferry_schema" does not exist').
    assert.match(
      await ok(['db', 'status'], env),
      /: schema not created \(version 0\); this Ferry knows 5: run `ferry db migrate`\n$/,
    );
    // Read-only commands refuse with the same words, and leave the database as it was (users
    // list migrated it).
    for (const args of [
      ['users', 'list'],
      ['users', 'show', 'dora'],
      ['bans', 'list'],
    ]) {
      const r = await ferry(args, env);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /schema not created \(version 0\); this Ferry knows 5: run `ferry db migrate`/);
      assert.equal(r.stdout, '');
    }
    assert.equal(await created(), false, 'nothing created by reading');

    // A command that writes creates the schema, as `ferry db migrate` would.
    await ok(['users', 'add', 'zed', '--home', dir, '--password-stdin'], env, 'zed-pw\n');
    assert.equal(await created(), true);
    assert.match(await ok(['db', 'status'], env), /: schema at version 5; this Ferry knows 5: up to date\n$/);
    assert.match(await ok(['users', 'list'], env), /zed\s+enabled/);
  });
});
