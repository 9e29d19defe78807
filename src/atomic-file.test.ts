import assert from 'node:assert/strict';
import {
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeAtomically } from './atomic-file.js';

const isRoot = process.getuid?.() === 0;

describe('writeAtomically', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-atomic-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('through a symbolic link replaces its target, beside the target; the link stays', async () => {
    const etc = path.join(dir, 'etc');
    const data = path.join(dir, 'data');
    await Promise.all([mkdir(etc), mkdir(data)]);
    const real = path.join(etc, 'users.yaml');
    await writeFile(real, 'old\n');
    // A chain, the last link relative: data/users.yaml → data/link → ../etc/users.yaml.
    await symlink('../etc/users.yaml', path.join(data, 'link'));
    await symlink(path.join(data, 'link'), path.join(data, 'users.yaml'));
    await writeAtomically(path.join(data, 'users.yaml'), 'new\n');
    assert.equal(await readFile(real, 'utf8'), 'new\n');
    assert.ok((await lstat(path.join(data, 'users.yaml'))).isSymbolicLink(), 'the link stays a link');
    assert.equal(await readlink(path.join(data, 'users.yaml')), path.join(data, 'link'));
    assert.deepEqual((await readdir(data)).sort(), ['link', 'users.yaml']);
    assert.deepEqual(await readdir(etc), ['users.yaml'], 'no temp file left');

    // A link to a file not there yet creates it.
    await symlink(path.join(etc, 'bans.json'), path.join(data, 'bans.json'));
    await writeAtomically(path.join(data, 'bans.json'), '{}\n');
    assert.equal(await readFile(path.join(etc, 'bans.json'), 'utf8'), '{}\n');
    assert.ok((await lstat(path.join(data, 'bans.json'))).isSymbolicLink());
  });

  it(
    'as root, replaces a link another user made instead of writing through it',
    { skip: !isRoot },
    async () => {
      const victim = path.join(dir, 'victim');
      await writeFile(victim, 'precious\n');
      const planted = path.join(dir, 'planted.yaml');
      await symlink(victim, planted);
      await lchown(planted, 65534, 65534);
      await writeAtomically(planted, 'users: []\n');
      assert.equal(await readFile(victim, 'utf8'), 'precious\n');
      assert.ok((await lstat(planted)).isFile(), 'the planted link is gone, a file in its place');
      assert.equal(await readFile(planted, 'utf8'), 'users: []\n');
    },
  );
});
