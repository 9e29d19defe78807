/**
 * Permissions through symbolic links, over both modes, on the local disk as `ferry serve` serves it
 * (home and folders LocalStorages, mounted): a link inside the home (or inside a
 * folder) leads to a path whose rules must allow the command too, for uploads, downloads, deletes,
 * renames, MKD, listings and metadata; a link whose target has the same rights works.
 */
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onlyReads } from '../../src/auth/permissions.js';
import { UserTable } from '../../src/auth/users.js';
import { userTree } from '../../src/cli/user-storage.js';
import type { PlainUserEntry } from '../../src/auth/users.js';
import type { RawFtp } from '../support/raw-ftp.js';
import {
  loginAs,
  MODES,
  randomData,
  storeAll,
  textOf,
  useFerry,
  waitForLog,
  withClients,
} from './harness.js';
import { testUsers } from '../support/test-hashes.js';

let dir: string;
let table: UserTable;

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );
const isLink = (p: string): Promise<boolean> =>
  lstat(p).then(
    (st) => st.isSymbolicLink(),
    () => false,
  );

/** A refusal's text: as a refusal by the rules at the path as given says it. */
/** Refused for `permission`: 550, but 553 to STOR and STOU (RFC 959 gives them no 550). */
const denied = async (ftp: RawFtp, line: string, permission: string): Promise<void> => {
  const code = /^(STOR|STOU) /.test(line) ? 553 : 550;
  assert.equal(textOf(await ftp.cmd(line, code)), `Permission denied: ${permission}`, line);
};

describe('permissions through symbolic links', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-perm-links-'));
    const entries: PlainUserEntry[] = [];
    for (const mode of MODES) {
      const home = path.join(dir, mode, 'home');
      const team = path.join(dir, mode, 'team');
      for (const d of ['pub/sub', 'incoming', 'private', 'mirror', 'hidden'])
        await mkdir(path.join(home, d), { recursive: true });
      await mkdir(path.join(team, 'ro'), { recursive: true });
      await mkdir(path.join(team, 'rw'), { recursive: true });
      await writeFile(path.join(home, 'pub/catalog.pdf'), 'catalog');
      await writeFile(path.join(home, 'incoming/order-17.csv'), 'order');
      await writeFile(path.join(home, 'private/p.txt'), 'private');
      await writeFile(path.join(team, 'ro/doc.txt'), 'team doc');
      await writeFile(path.join(home, 'hidden/h.txt'), 'hidden');
      await symlink('../pub', path.join(home, 'private/publink'));
      await symlink('../hidden', path.join(home, 'private/hidelink'));
      await symlink('../incoming', path.join(home, 'pub/inlink'));
      await symlink('../private', path.join(home, 'mirror/privlink')); // same rights as /mirror
      await symlink('../ro', path.join(team, 'rw/rolink')); // inside the folder: /team/ro
      await symlink('../pub/catalog.pdf', path.join(home, 'private/filelink'));
      await symlink('../pub', path.join(home, 'private/dirlink'));
      await mkdir(path.join(home, 'locked'));
      await writeFile(path.join(home, 'locked/a.txt'), 'a');
      await symlink('../pub/catalog.pdf', path.join(home, 'locked/ln'));
      entries.push({
        username: `acme-${mode}`,
        password: 'pw',
        home,
        folders: { '/team': team },
        permissions: {
          '/': ['list'],
          '/pub': ['list', 'download'],
          '/incoming': ['list', 'upload'],
          '/private': '*',
          '/locked': ['list', 'rename'],
          '/hidden': ['download'],
          '/mirror': '*',
          '/team/ro': ['list', 'download'],
          '/team/rw': '*',
        },
      });
    }
    table = await testUsers(entries);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const server = useFerry(() => ({
    authenticator: table,
    storageFor: (p) => userTree(p, onlyReads(p)),
  }));

  for (const mode of MODES) {
    const home = (): string => path.join(dir, mode, 'home');

    test(`${mode}: a link into a directory with fewer rights does not lend the link's rights`, async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(server(), mode, `acme-${mode}`, track);
        const from = server().logs.length;
        // Upload, delete, rename onto, MKD through /private/publink: /pub allows only list, download.
        const stored = await storeAll(ftp, 'STOR /private/publink/evil.txt', randomData(10));
        assert.deepEqual([stored.code, textOf(stored)], [553, 'Permission denied: upload']);
        assert.equal(await exists(path.join(home(), 'pub/evil.txt')), false);
        const log = await waitForLog(server(), (l) => l.msg === 'permission denied (through a link)', from);
        assert.deepEqual(
          {
            path: (log.obj as { path: string }).path,
            permission: (log.obj as { permission: string }).permission,
          },
          { path: '/pub/evil.txt', permission: 'upload' },
        );
        await denied(ftp, 'DELE /private/publink/catalog.pdf', 'delete');
        assert.equal(await readFile(path.join(home(), 'pub/catalog.pdf'), 'utf8'), 'catalog');
        await ftp.cmd('RNFR /private/p.txt', 350);
        await denied(ftp, 'RNTO /private/publink/p.txt', 'rename');
        for (const [line, permission] of [
          ['RNFR /private/publink/catalog.pdf', 'rename'],
          ['MKD /private/publink/newdir', 'mkdir'],
          ['RMD /private/publink/sub', 'rmdir'],
          ['MFMT 20200102030405 /private/publink/catalog.pdf', 'overwrite'],
          ['SITE CHMOD 600 /private/publink/catalog.pdf', 'chmod'],
        ] as const)
          await denied(ftp, line, permission);
        assert.equal(await exists(path.join(home(), 'pub/sub')), true);
        // Download, listing and metadata through /pub/inlink: /incoming allows no download.
        await ftp.epsv();
        await denied(ftp, 'RETR /pub/inlink/order-17.csv', 'download');
        await denied(ftp, 'HASH /pub/inlink/order-17.csv', 'download');
        // CWD needs nothing; what follows from there is checked where it leads.
        await ftp.cmd('CWD /private/publink', 250);
        await denied(ftp, 'STOR evil2.txt', 'upload');
        assert.equal(await exists(path.join(home(), 'pub/evil2.txt')), false);
        assert.equal((await ftp.retrieve('catalog.pdf')).toString(), 'catalog');
      });
    });

    test(`${mode}: listings and metadata need list where the link leads`, async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(server(), mode, `acme-${mode}`, track);
        // /incoming allows list: listing through the link works, the download does not.
        assert.match(await ftp.listing('NLST', '/pub/inlink'), /order-17\.csv/);
        assert.match(textOf(await ftp.cmd('SIZE /pub/inlink/order-17.csv', 213)), /^5$/);
        // /hidden allows no list: neither listings nor metadata through /private/hidelink.
        await ftp.epsv();
        await denied(ftp, 'NLST /private/hidelink', 'list');
        await ftp.epsv();
        await denied(ftp, 'MLSD /private/hidelink', 'list');
        for (const line of [
          'MLST /private/hidelink/h.txt',
          'STAT /private/hidelink',
          'SIZE /private/hidelink/h.txt',
          'MDTM /private/hidelink/h.txt',
        ])
          await denied(ftp, line, 'list');
        assert.equal((await ftp.retrieve('/private/hidelink/h.txt')).toString(), 'hidden');
        // /team/ro forbids upload; /team/rw/rolink leads there, inside the folder.
        const stored = await storeAll(ftp, 'STOR /team/rw/rolink/x', randomData(10));
        assert.deepEqual([stored.code, textOf(stored)], [553, 'Permission denied: upload']);
        assert.equal((await ftp.retrieve('/team/rw/rolink/doc.txt')).toString(), 'team doc');
      });
    });

    test(`${mode}: RNFR/RNTO of a link renames the link where it is, whatever its target allows`, async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(server(), mode, `acme-${mode}`, track);
        const at = (name: string): string => path.join(home(), 'private', name);
        // As rename(2): the link is renamed, in /private; /pub, where it leads, allows no rename.
        await ftp.cmd('RNFR /private/filelink', 350);
        await ftp.cmd('RNTO /private/filelink2', 250);
        await ftp.cmd('RNFR /private/dirlink', 350);
        await ftp.cmd('RNTO /private/dirlink2', 250);
        assert.deepEqual([await isLink(at('filelink')), await isLink(at('dirlink'))], [false, false]);
        assert.equal(await readlink(at('filelink2')), '../pub/catalog.pdf');
        assert.equal(await readlink(at('dirlink2')), '../pub');
        // Onto an existing link: the link is replaced, not what it leads to.
        await ftp.cmd('RNFR /private/filelink2', 350);
        await ftp.cmd('RNTO /private/dirlink2', 250);
        assert.equal(await readlink(at('dirlink2')), '../pub/catalog.pdf');
        assert.equal(await readFile(path.join(home(), 'pub/catalog.pdf'), 'utf8'), 'catalog');
        assert.equal((await stat(path.join(home(), 'pub'))).isDirectory(), true);
        // The way to the name still counts: through a link into /pub, no rename.
        await denied(ftp, 'RNFR /private/publink/catalog.pdf', 'rename');
        // Replacing a link needs overwrite where the link is (/locked has none), not rename at its target.
        await ftp.cmd('RNFR /locked/a.txt', 350);
        await denied(ftp, 'RNTO /locked/ln', 'overwrite');
        assert.equal(await readlink(path.join(home(), 'locked/ln')), '../pub/catalog.pdf');
      });
    });

    test(`${mode}: a link whose target has the same rights works as before`, async () => {
      await withClients(async (track) => {
        const ftp = await loginAs(server(), mode, `acme-${mode}`, track);
        assert.equal((await storeAll(ftp, 'STOR /mirror/privlink/new.txt', randomData(10))).code, 226);
        assert.equal(await exists(path.join(home(), 'private/new.txt')), true);
        assert.equal((await ftp.retrieve('/mirror/privlink/p.txt')).toString(), 'private');
        assert.match(await ftp.listing('MLSD', '/mirror/privlink'), /new\.txt/);
        await ftp.cmd('MKD /mirror/privlink/d', 257);
        await ftp.cmd('RMD /mirror/privlink/d', 250);
        await ftp.cmd('RNFR /mirror/privlink/new.txt', 350);
        await ftp.cmd('RNTO /mirror/privlink/renamed.txt', 250);
        await ftp.cmd('DELE /mirror/privlink/renamed.txt', 250);
        await ftp.cmd('MLST /mirror/privlink/p.txt', 250);
        // The link itself is the user's to delete (it is in /private); its target stays.
        await ftp.cmd('DELE /private/publink', 250);
        assert.equal(await exists(path.join(home(), 'pub/catalog.pdf')), true);
      });
    });
  }
});
