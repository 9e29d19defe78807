/**
 * Migrated hashes in PostgreSQL accounts: `ferry users import` puts them in one transaction, a
 * login with the old password works, and the hash becomes scrypt through the database.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runFerry, ServeProcess } from '../support/ferry-process.js';
import { TestPostgres } from '../support/postgres.js';
import { RawFtp } from '../support/raw-ftp.js';

const PW = 'pässwörd 123!';
const APR1 = '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1'; // openssl passwd -apr1 -salt s4ltS4lt
const BCRYPT = '$2y$06$KrnsT96ujvB4fJhAQ3iRjuGBkYLctzOpou8z5rUS7d4hsWDG78ZZC'; // mkpasswd -m bcrypt, as $2y$

let pgc: TestPostgres;
let dir: string;

async function hashOf(name: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: pgc.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ h: string }>(
      "SELECT data->>'passwordHash' AS h FROM ferry_accounts WHERE username = $1",
      [name],
    );
    return rows[0]?.h;
  } finally {
    await client.end();
  }
}

describe('migrated hashes in PostgreSQL accounts', { timeout: 120_000 }, () => {
  before(async () => {
    pgc = await TestPostgres.create();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-db-hashes-'));
  });
  after(async () => {
    await pgc?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('import, log in with the old password, hash upgraded in the database', async () => {
    const config = path.join(dir, 'ferry.yaml');
    await writeFile(config, `dataDir: ${dir}/data\naccounts:\n  postgres: "${pgc.url}"\n`);
    for (const name of ['ann', 'bob']) await mkdir(path.join(dir, 'homes', name), { recursive: true });
    const file = path.join(dir, 'htpasswd');
    await writeFile(file, `ann:${APR1}\nbob:${BCRYPT}\ncarl:*\n`);
    const r = await runFerry([
      'users',
      'import',
      file,
      '--home-base',
      path.join(dir, 'homes'),
      '--config',
      config,
    ]);
    assert.equal(r.code, 1, 'carl (locked) is left out: exit 1 after importing the rest');
    assert.match(r.stdout, /^imported 2 of 3 users into database postgresql:/);
    assert.equal(await hashOf('ann'), APR1);

    const server = await ServeProcess.start(['--config', config, '--workers', '1'], dir);
    try {
      for (const name of ['ann', 'bob']) {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
        try {
          await ftp.expect(220);
          await ftp.cmd(`USER ${name}`, 331);
          await ftp.cmd(`PASS ${PW}`, 230);
        } finally {
          await ftp.close();
        }
        await server.waitForLog(
          (l) => l.msg === 'migrated password hash replaced by a scrypt one' && l.user === name,
          `${name}'s hash replaced`,
        );
        assert.match((await hashOf(name)) ?? '', /^scrypt\$/);
      }
    } finally {
      await server.stop();
    }
  });
});
