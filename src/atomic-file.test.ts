import assert from 'node:assert/strict';
import {
  chown,
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

  it('a relative link resolves from the real directory, as the kernel does', async () => {
    const srv = path.join(dir, 'srv');
    await mkdir(path.join(srv, 'data'), { recursive: true });
    await mkdir(path.join(srv, 'etc'));
    await writeFile(path.join(srv, 'etc', 'users.yaml'), 'old\n');
    await symlink('../etc/users.yaml', path.join(srv, 'data', 'users.yaml'));
    // The data directory reached through a link elsewhere: ../etc is srv/etc, not beside the link.
    const home = path.join(dir, 'home');
    await mkdir(home);
    await symlink(path.join(srv, 'data'), path.join(home, 'data'));
    await writeAtomically(path.join(home, 'data', 'users.yaml'), 'new\n');
    assert.equal(await readFile(path.join(srv, 'etc', 'users.yaml'), 'utf8'), 'new\n');
    assert.deepEqual(await readdir(home), ['data'], 'nothing made beside the path written');
  });

  it(
    'as root, a link of root in a directory another user owns is replaced, not followed',
    { skip: !isRoot },
    async () => {
      // The run-as user's data directory: it could swap root's link for its own between check and use.
      const theirs = path.join(dir, 'theirs');
      await mkdir(theirs);
      await chown(theirs, 65534, 65534);
      const victim = path.join(dir, 'victim2');
      await writeFile(victim, 'precious\n');
      await symlink(victim, path.join(theirs, 'users.yaml'));
      await writeAtomically(path.join(theirs, 'users.yaml'), 'users: []\n');
      assert.equal(await readFile(victim, 'utf8'), 'precious\n');
      assert.ok((await lstat(path.join(theirs, 'users.yaml'))).isFile());
    },
  );
});
