/**
 * `ferry users set` says what its rule and folder flags did: the same virtual path given twice to
 * --perm or --folder is refused (exit 2) naming it, not one of them dropped without a word; removing a rule
 * or folder the user does not have says so, and an account left as it was is not called updated.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryUsers } from '../support/ferry-process.js';

let dir: string;
let data: string;
let home: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-users-set-'));
  data = path.join(dir, 'data');
  home = path.join(dir, 'home');
  for (const d of [data, home, path.join(dir, 'a'), path.join(dir, 'b')]) await mkdir(d);
  const added = await ferryUsers(data, ['add', 'ann', '--home', home, '--password-stdin'], 'ann-pw\n');
  assert.equal(added.code, 0, added.stderr);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('--folder with one virtual path twice: refused naming it, nothing written', async () => {
  const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
  const r = await ferryUsers(data, ['set', 'ann', '--folder', `/x=${a}`, '--folder', `/x/=${b}`]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /--folder: \/x is given twice \(\/x=.*\/a and \/x\/=.*\/b\): give each virtual path once/,
  );
  const shown = JSON.parse((await ferryUsers(data, ['show', 'ann', '--json'])).stdout) as object;
  assert.ok(!('folders' in shown), JSON.stringify(shown));
});

test('--perm with one virtual path twice: refused naming it, nothing written', async () => {
  const r = await ferryUsers(data, ['set', 'ann', '--perm', '/pub=list', '--perm', '/pub/=list,upload']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /--perm: \/pub is given twice \(\/pub=list and \/pub\/=list,upload\): give each virtual path once/,
  );
  const shown = JSON.parse((await ferryUsers(data, ['show', 'ann', '--json'])).stdout) as object;
  assert.ok(!('permissions' in shown), JSON.stringify(shown));
});

test('removing a --perm rule or a --folder the user does not have says so; the account is unchanged', async () => {
  const perm = await ferryUsers(data, ['set', 'ann', '--perm', '/pub=']);
  assert.equal(perm.code, 0, perm.stderr);
  assert.match(perm.stderr, /--perm \/pub=: there is no rule at \/pub to remove/);
  assert.match(perm.stdout, /^ann unchanged in /);
  const folder = await ferryUsers(data, ['set', 'ann', '--folder', '/x=']);
  assert.match(folder.stderr, /--folder \/x=: there is no folder at \/x to remove/);

  // A rule that is there is removed, silently; another flag alongside still updates.
  assert.equal((await ferryUsers(data, ['set', 'ann', '--perm', '/pub=list'])).code, 0);
  const removed = await ferryUsers(data, ['set', 'ann', '--perm', '/pub=', '--perm', '/tmp=', '--read-only']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.doesNotMatch(removed.stderr, /\/pub/);
  assert.match(removed.stderr, /no rule at \/tmp/);
  assert.match(removed.stdout, /^updated ann in /);
});
