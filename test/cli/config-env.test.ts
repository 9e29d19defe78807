/**
 * FERRY_CONFIG names the config file when --config is not given: `ferry users` edits that config's
 * users file (not ~/.ferry/users.yaml), `ferry serve` serves it; --config wins over it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { bannerOf, ferryOk, serveArgv } from '../support/ferry-process.js';

let dir: string;
let env: Record<string, string>;
const config = (name: string): string => path.join(dir, `${name}.yaml`);
const usersFile = (name: string): string => path.join(dir, name, 'users.yaml');

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-config-env-'));
  await mkdir(path.join(dir, 'home'));
  await mkdir(path.join(dir, 'root'));
  for (const name of ['site', 'other']) {
    await mkdir(path.join(dir, name));
    await writeFile(config(name), `dataDir: ${name}\nroot: root\n`);
  }
  // HOME of its own: ~/.ferry/users.yaml, where `ferry users` went without --config, is in it.
  env = { FERRY_CONFIG: config('site'), HOME: path.join(dir, 'home') };
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('FERRY_CONFIG: ferry users edits its users file, ferry serve serves it; --config wins', async () => {
  const add = (name: string, ...args: string[]): Promise<string> =>
    ferryOk(
      ['users', 'add', name, '--home', path.join(dir, 'root'), '--password-stdin', ...args],
      'pw\n',
      env,
    );
  assert.equal(await add('bob'), `added bob to ${usersFile('site')}\n`);
  assert.match(await readFile(usersFile('site'), 'utf8'), /name: bob/);
  await assert.rejects(access(path.join(dir, 'home', '.ferry', 'users.yaml')));
  assert.match(await ferryOk(['users', 'show', 'bob'], undefined, env), /^name\s+bob$/m);

  assert.equal(await add('carol', '--config', config('other')), `added carol to ${usersFile('other')}\n`);
  assert.doesNotMatch(await readFile(usersFile('site'), 'utf8'), /carol/);

  const { argv } = await serveArgv();
  const child = spawn(process.execPath, argv, {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  try {
    const banner = await bannerOf(child);
    assert.match(banner, new RegExp(`users\\s+${usersFile('site')} \\(1 user`));
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});
