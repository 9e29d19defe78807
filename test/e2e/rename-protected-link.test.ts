/**
 * A directory with a rule of its own below it cannot be renamed (its protected subtree would leave
 * its rule behind), also when RNFR names it through a symbolic link.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onlyReads } from '../../src/auth/permissions.js';
import { UserTable } from '../../src/auth/users.js';
import { userTree } from '../../src/cli/user-storage.js';
import { loginAs, textOf, useFerry, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

let dir: string;
let table: UserTable;
describe('RNFR of a protected subtree through a link', { timeout: 60_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-rename-protected-'));
    const home = path.join(dir, 'home');
    await mkdir(path.join(home, 'real/a/locked'), { recursive: true });
    await symlink('real', path.join(home, 'via'));
    const permissions = { '/': '*', '/real/a/locked': ['list'] } as const;
    table = await testUsers([{ username: 'u', password: 'pw', home, permissions }]);
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const server = useFerry(() => ({ authenticator: table, storageFor: (p) => userTree(p, onlyReads(p)) }));

  test('is refused as at its own path; the subtree stays under its rule', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'u', track);
      const direct = await ftp.cmd('RNFR /real/a', 550);
      assert.match(textOf(direct), /holds paths with permissions of their own/);
      assert.equal(textOf(await ftp.cmd('RNFR /via/a', 550)), 'Permission denied: rename');
      await ftp.cmd('RNTO /moved', 503); // no RNFR pending
      assert.ok((await stat(path.join(dir, 'home/real/a/locked'))).isDirectory());
    });
  });
});
