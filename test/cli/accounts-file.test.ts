/**
 * A users file named by the config (`accounts.file`) must exist: a typo'd path stops `ferry serve`
 * at start (exit 2, the key and path named; nothing created, no made-up `ferry` login) and is
 * refused by a reload (the running users stay). Without one configured, the quick start still
 * serves a generated login from the default <dataDir>/users.yaml.
 */
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryOk, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-accounts-file-'));
  root = path.join(dir, 'root');
  await mkdir(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

/** `ferry serve ARGS`: its banner if it started (then stopped), else why it did not. */
async function startOrWhy(args: string[]): Promise<{ started?: string; error?: string }> {
  try {
    const server = await ServeProcess.start(args, dir);
    await server.stop();
    return { started: server.banner };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function passCode(server: ServeProcess, user: string, password: string): Promise<number> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  try {
    await ftp.expect(220);
    await ftp.cmd(`USER ${user}`, 331);
    return (await ftp.cmd(`PASS ${password}`)).code;
  } finally {
    await ftp.close();
  }
}

test('a configured accounts.file that does not exist stops ferry serve (exit 2), creating nothing', async () => {
  for (const missing of [path.join(dir, 'userz.yaml'), path.join(dir, 'no-such-dir', 'users.yaml')]) {
    const config = path.join(dir, 'typo.yaml');
    await writeFile(config, `accounts:\n  file: ${missing}\n`);
    const r = await startOrWhy([
      '--config',
      config,
      '--data-dir',
      path.join(dir, 'data-typo'),
      '--root',
      root,
    ]);
    assert.equal(r.started, undefined, `started with a missing users file: ${r.started}`);
    assert.match(r.error ?? '', /exited 2/);
    assert.ok(r.error?.includes(`accounts.file: ${missing} does not exist`), r.error);
    assert.ok(r.error?.includes(config), r.error);
    assert.equal(await exists(path.dirname(missing)), path.dirname(missing) === dir, 'no directory created');
    assert.equal(await exists(missing), false);
  }
});

test('the quick start (no accounts file configured) still generates a login over the default users file', async () => {
  const data = path.join(dir, 'data-quick');
  const server = await ServeProcess.start(['--data-dir', data, '--root', root], dir);
  try {
    assert.match(server.banner, /users\s+\S+users\.yaml \(0 users; 'ferry users' edits it\)/);
    const m = /login\s+user ferry\s+password (\S+)/.exec(server.banner);
    assert.ok(m?.[1], server.banner);
    assert.equal(await passCode(server, 'ferry', m[1]), 230);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('SIGHUP onto a missing accounts.file is refused: the running users stay, the reason logged', async () => {
  const data = path.join(dir, 'data-reload');
  const users = path.join(dir, 'people.yaml');
  const config = path.join(dir, 'reload.yaml');
  await writeFile(config, `accounts:\n  file: ${users}\n`);
  await mkdir(path.join(root, 'ann'));
  await ferryOk(
    ['users', 'add', 'ann', '--home', path.join(root, 'ann'), '--password-stdin', '--config', config],
    'pw\n',
  );
  const server = await ServeProcess.start(['--config', config, '--data-dir', data], dir);
  try {
    assert.equal(await passCode(server, 'ann', 'pw'), 230);
    const missing = path.join(dir, 'peeple.yaml');
    await writeFile(config, `accounts:\n  file: ${missing}\n`);
    const from = server.log.length;
    server.child.kill('SIGHUP');
    const failed = await server.waitForLog(
      (l) => server.log.indexOf(l) >= from && /configuration reload(ed| failed)/.test(String(l.msg)),
      'the reload outcome',
    );
    assert.equal(failed.msg, 'configuration reload failed; the running configuration is kept');
    assert.match(String(failed.err), /accounts\.file: .*peeple\.yaml does not exist/);
    assert.equal(await passCode(server, 'ann', 'pw'), 230, 'the running users file stays in use');
    assert.equal(await exists(missing), false);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('a user both in the config and in the users file: the config entry is used, and a warning says so', async () => {
  const data = path.join(dir, 'data-shadow');
  const users = path.join(dir, 'shadow-users.yaml');
  const config = path.join(dir, 'shadow.yaml');
  await mkdir(path.join(root, 'bo'), { recursive: true });
  const hash = await testHash('config-pw');
  // Added before the config defines bo too (ferry users then refuses a change to bo).
  await writeFile(config, `accounts:\n  file: ${users}\n`);
  await ferryOk(
    ['users', 'add', 'bo', '--home', path.join(root, 'bo'), '--password-stdin', '--config', config],
    'file-pw\n',
  );
  await writeFile(
    config,
    `accounts:\n  file: ${users}\nusers:\n  - { name: bo, passwordHash: "${hash}", home: ${root} }\n`,
  );
  const server = await ServeProcess.start(['--config', config, '--data-dir', data], dir);
  try {
    const warned = await server.waitForLog(
      (l) => /users defined in the configuration/.test(String(l.msg)),
      'the warning',
    );
    assert.deepEqual(warned.users, ['bo']);
    assert.equal(warned.file, users);
    assert.equal(await passCode(server, 'bo', 'config-pw'), 230);
    assert.equal(await passCode(server, 'bo', 'file-pw'), 530);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
