/**
 * The quick start's generated `ferry` login lasts only while no account exists: the first
 * `ferry users add` ends it on every worker at once (its live sessions get 421, new logins 530,
 * said once in the log), without a SIGHUP. Else its printed password kept serving the node's root
 * (the current directory, / under some service managers) next to the real accounts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { changeUsers } from '../support/users-cli.js';
import { TestPostgres } from '../support/postgres.js';

const WORKERS = 2;
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-generated-login-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function login(
  server: ServeProcess,
  user: string,
  password: string,
): Promise<{ ftp: RawFtp; code: number }> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.cmd(`USER ${user}`, 331);
  return { ftp, code: (await ftp.cmd(`PASS ${password}`)).code };
}

test('the first account added ends the generated login: live sessions 421, new logins 530, logged once', async () => {
  const root = path.join(dir, 'root');
  const data = path.join(dir, 'data');
  await mkdir(path.join(root, 'alice'), { recursive: true });
  await writeFile(path.join(root, 'secret.txt'), 'only for the quick start\n');
  const server = await ServeProcess.start(
    ['--workers', String(WORKERS), '--data-dir', data, '--root', root],
    dir,
  );
  try {
    const password = /login\s+user ferry\s+password (\S+)/.exec(server.banner)?.[1];
    assert.ok(password, server.banner);
    // Several sessions: with two workers, each is likely to hold one.
    const live = await Promise.all([1, 2, 3, 4].map(() => login(server, 'ferry', password)));
    for (const s of live) assert.equal(s.code, 230);
    const from = server.log.length;
    await changeUsers(
      server,
      WORKERS,
      data,
      ['add', 'alice', '--home', path.join(root, 'alice'), '--password-stdin'],
      'pw\n',
    );
    for (const { ftp } of live) {
      const r = await ftp.expect();
      assert.equal(r.code, 421, textOf(r));
      await ftp.closed;
    }
    const again = await login(server, 'ferry', password);
    await again.ftp.close();
    assert.equal(again.code, 530);
    const alice = await login(server, 'alice', 'pw');
    await alice.ftp.close();
    assert.equal(alice.code, 230);
    const ended = server.log
      .slice(from)
      .filter((l) => /generated login ends/.test(String(l.msg)) && l.level !== 'debug' && l.level !== 20);
    assert.equal(ended.length, 1, JSON.stringify(ended));
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('a node on a database with no accounts makes up no login (each node would have its own)', async () => {
  const pg = await TestPostgres.create();
  const own = path.join(dir, 'db');
  let server: ServeProcess | undefined;
  try {
    await mkdir(own);
    const config = path.join(own, 'ferry.yaml');
    await writeFile(config, `dataDir: ${own}/data\nroot: ${dir}\naccounts:\n  postgres: "${pg.url}"\n`);
    server = await ServeProcess.start(['--config', config], own);
    assert.doesNotMatch(server.banner, /login\s+user/);
    assert.match(server.banner, /0 users/);
    const ferry = await login(server, 'ferry', 'anything');
    await ferry.ftp.close();
    assert.equal(ferry.code, 530);
  } finally {
    if (server) assert.equal(await server.stop(), 0);
    await pg.destroy();
  }
});
