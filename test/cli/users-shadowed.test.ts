/**
 * `ferry users --config FILE` for a user that FILE's `users:` list also defines: the server uses
 * that entry, so a change to the users file's one is refused (exit 1, nothing written) and what is
 * shown of it comes with a warning. Users only in the users file are unaffected.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryUsers, runFerry } from '../support/ferry-process.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-users-shadowed-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("a user also in the config's users: list: changes refused (exit 1, file unchanged), show and list warn", async () => {
  const data = path.join(dir, 'data');
  const home = path.join(dir, 'home');
  await mkdir(home);
  for (const name of ['bob', 'carl']) {
    const r = await ferryUsers(data, ['add', name, '--home', home, '--password-stdin'], 'pw\n');
    assert.equal(r.code, 0, r.stderr);
  }
  const config = path.join(dir, 'ferry.yaml');
  await writeFile(
    config,
    `users:\n  - name: bob\n    passwordHash: ${await testHash('config-pw')}\n    home: ${home}\n`,
  );
  const usersFile = path.join(data, 'users.yaml');
  const before = await readFile(usersFile, 'utf8');
  const shadowed = new RegExp(`bob is also defined in ${config.replace(/[.]/g, '\\.')}'s users: list`);

  for (const [args, input] of [
    [['set', 'bob', '--disabled'], undefined],
    [['passwd', 'bob', '--password-stdin'], 'new-pw\n'],
    [['rm', 'bob'], undefined],
    [['add', 'bob', '--home', home, '--password-stdin'], 'pw\n'],
  ] as const) {
    const r = await ferryUsers(data, [...args, '--config', config], input);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, shadowed, args.join(' '));
    assert.match(r.stderr, /nothing was changed/);
    assert.equal(r.stdout, '');
  }
  assert.equal(await readFile(usersFile, 'utf8'), before, 'the users file is unchanged');

  const show = await ferryUsers(data, ['show', 'bob', '--config', config]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stderr, new RegExp(`^warning: ${shadowed.source}`));
  assert.match(show.stdout, /status +enabled/);
  const list = await ferryUsers(data, ['list', '--config', config]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stderr, shadowed);
  assert.doesNotMatch(list.stderr, /carl/);

  // carl is only in the users file: no warning, the change is made.
  const carl = await ferryUsers(data, ['set', 'carl', '--disabled', '--config', config]);
  assert.equal(carl.code, 0, carl.stderr);
  assert.equal(carl.stderr, '');
  assert.match((await ferryUsers(data, ['show', 'carl', '--config', config])).stdout, /status +disabled/);
});

test("list and show --config show the config's users too, marked read-only; show marks only what userDefaults gives", async () => {
  const data = path.join(dir, 'data-config-users');
  const home = path.join(dir, 'home-config-users');
  await mkdir(home);
  const config = path.join(dir, 'config-users.yaml');
  await writeFile(
    config,
    [
      `dataDir: ${data}`,
      'userDefaults: { readOnly: false, maxSessions: 3 }',
      `users: [{ name: alice, passwordHash: "${await testHash('pw')}", home: ${home}, maxSessions: 2 }]`,
    ].join('\n') + '\n',
  );
  const users = (args: string[], input?: string): ReturnType<typeof runFerry> =>
    runFerry(['users', ...args, '--config', config], input);
  const added = await users(
    ['add', 'ann', '--home', home, '--perm', '/old=list,download', '--password-stdin'],
    'pw\n',
  );
  assert.equal(added.code, 0, added.stderr);

  const list = await users(['list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(
    list.stdout,
    new RegExp(`^alice +enabled +${home}  \\(config; read-only here: edit the config\\)$`, 'm'),
  );
  assert.match(list.stdout, new RegExp(`^ann +enabled +${home}$`, 'm'));
  const json = JSON.parse((await users(['list', '--json'])).stdout) as { name: string; from?: string }[];
  assert.deepEqual(
    json.map((u) => [u.name, u.from]),
    [
      ['alice', 'config'],
      ['ann', undefined],
    ],
  );

  const show = await users(['show', 'alice']);
  assert.equal(show.code, 0, show.stderr); // was: exit 2, no user "alice"
  assert.equal(show.stderr, '');
  assert.match(show.stdout, /^max sessions +2$/m);
  assert.match(show.stdout, new RegExp(`^from +${config} \\(users:\\)  \\(config; read-only here`, 'm'));
  assert.equal(JSON.parse((await users(['show', 'alice', '--json'])).stdout).from, 'config');
  const set = await users(['set', 'alice', '--max-sessions', '4']);
  assert.equal(set.code, 1, set.stderr); // still refused

  // ann's / rule comes from userDefaults' readOnly; her /old rule is her own.
  const ann = await users(['show', 'ann']);
  assert.match(ann.stdout, /^permissions +\/=\* {2}\(userDefaults\) {2}\/old=list,download$/m);
  assert.match(ann.stdout, /^max sessions +3 {2}\(userDefaults\)$/m);
});
