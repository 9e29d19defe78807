/**
 * Site file rules on the local disk as `ferry serve` serves it (home and a folder, mounted):
 * `denyFiles` (vsftpd's deny_file), the server's and an account's own: denied names are left out of
 * listings and cannot be read, created (553), renamed, removed or entered (550), whatever the case
 * when `denyFilesIgnoreCase` is set, and neither a link nor a virtual folder leads around them;
 * `hideDotFiles` (vsftpd's force_dot_files=NO): LIST, NLST and STAT leave dot-files out unless
 * asked with `-a`, MLSD lists them, and they can still be named.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testCertificate } from '../support/ferry.js';
import { FerryClient } from '../../src/client/client.js';
import { onlyReads } from '../../src/auth/permissions.js';
import { UserTable } from '../../src/auth/users.js';
import { userTree } from '../../src/cli/user-storage.js';
import type { RawFtp } from '../support/raw-ftp.js';
import { loginAs, randomData, storeAll, textOf, useFerry, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

let dir: string;
let table: UserTable;

const names = async (ftp: RawFtp, verb: 'NLST' | 'MLSD' | 'LIST', arg = ''): Promise<string[]> => {
  const text = await ftp.listing(verb, arg);
  const lines = text.split('\r\n').filter((l) => l !== '');
  // LIST: the name ends the line, but for a link's ` -> target` (no name here has a space).
  const name = (l: string): string =>
    verb === 'NLST'
      ? l
      : verb === 'MLSD'
        ? (l.split('; ').at(-1) ?? '')
        : (/ (\S+)(?: -> \S+)?$/.exec(l)?.[1] ?? '');
  return lines
    .map(name)
    .filter((n) => n !== '.' && n !== '..' && !n.includes('type=cdir'))
    .sort();
};

const refused = async (ftp: RawFtp, line: string, code: 550 | 553): Promise<void> => {
  const r = await ftp.cmd(line);
  assert.equal(r.code, code, `${line} → ${r.code} ${textOf(r)}`);
};

describe('denyFiles', { timeout: 120_000 }, () => {
  const home = (): string => path.join(dir, 'home');
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-site-files-'));
    const team = path.join(dir, 'team');
    await mkdir(path.join(home(), 'docs'), { recursive: true });
    await mkdir(path.join(home(), 'tools.exe'), { recursive: true });
    await mkdir(team, { recursive: true });
    await writeFile(path.join(home(), 'readme.txt'), 'readme');
    await writeFile(path.join(home(), 'setup.exe'), 'setup');
    await writeFile(path.join(home(), 'SETUP2.EXE'), 'setup2');
    await writeFile(path.join(home(), '.htaccess'), 'deny from all');
    await writeFile(path.join(home(), 'tools.exe/inside.txt'), 'inside');
    await writeFile(path.join(home(), 'app.log'), 'log');
    await writeFile(path.join(team, 'x.exe'), 'x');
    await symlink('setup.exe', path.join(home(), 'harmless.txt'));
    await symlink('tools.exe', path.join(home(), 'toolbox'));
    table = await testUsers([
      { username: 'site', password: 'pw', home: home(), folders: { '/team': team } },
      { username: 'nolog', password: 'pw', home: home(), denyFiles: ['*.log'] },
    ]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const server = useFerry(() => ({
    authenticator: table,
    storageFor: (p) => userTree(p, onlyReads(p)),
    denyFiles: ['*.exe', '.ht*'],
    denyFilesIgnoreCase: true,
  }));

  test('denied names are left out of LIST, NLST and MLSD', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'site', track);
      const shown = ['app.log', 'docs', 'harmless.txt', 'readme.txt', 'team', 'toolbox'];
      assert.deepEqual(await names(ftp, 'NLST'), shown);
      assert.deepEqual(await names(ftp, 'LIST', '-a'), shown);
      assert.deepEqual(await names(ftp, 'MLSD'), shown);
      assert.deepEqual(await names(ftp, 'NLST', '/team'), []);
    });
  });

  test('denied names cannot be read, entered, removed or renamed (550)', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'site', track);
      for (const line of [
        'SIZE setup.exe',
        'SIZE Setup2.exe',
        'MLST .htaccess',
        'MDTM /team/x.exe',
        'CWD tools.exe',
        'SIZE tools.exe/inside.txt',
        'DELE setup.exe',
        'RNFR setup.exe',
        'SITE CHMOD 600 setup.exe',
      ])
        await refused(ftp, line, 550);
      await ftp.epsv();
      await refused(ftp, 'RETR setup.exe', 550);
      await ftp.epsv();
      await refused(ftp, 'NLST tools.exe', 550);
      // A link with an allowed name leads to a denied one: refused where it leads.
      await ftp.epsv();
      await refused(ftp, 'RETR harmless.txt', 550);
      await refused(ftp, 'SIZE toolbox/inside.txt', 550);
      assert.equal((await ftp.retrieve('readme.txt')).toString(), 'readme');
    });
  });

  test('denied names cannot be created (553; MKD, which RFC 959 allows 550 only, 550)', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'site', track);
      for (const line of ['STOR virus.exe', 'APPE docs/V.Exe', 'STOR /team/y.exe', 'STOR .htpasswd']) {
        const r = await storeAll(ftp, line, randomData(10));
        assert.equal(r.code, 553, `${line} → ${r.code} ${textOf(r)}`);
      }
      await refused(ftp, 'MKD bin.exe', 550);
      await ftp.cmd('RNFR readme.txt', 350);
      await refused(ftp, 'RNTO readme.exe', 553);
      assert.deepEqual(await readdir(path.join(home(), 'docs')), []);
      const made = (await readdir(home())).filter((n) => /virus|htpasswd|bin|readme\.exe/.test(n));
      assert.deepEqual(made, []);
    });
  });

  test("an account's own denyFiles add to the server's", async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'nolog', track);
      assert.deepEqual(await names(ftp, 'NLST'), ['docs', 'harmless.txt', 'readme.txt', 'toolbox']);
      await refused(ftp, 'SIZE app.log', 550);
      const r = await storeAll(ftp, 'STOR new.LOG', randomData(10));
      assert.equal(r.code, 553);
      const site = await loginAs(server(), 'explicit', 'site', track);
      assert.match(textOf(await site.cmd('SIZE app.log', 213)), /^3$/);
    });
  });
});

describe('hideDotFiles', { timeout: 120_000 }, () => {
  let root: string;
  let users: UserTable;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ferry-dot-files-'));
    await mkdir(path.join(root, '.config'));
    await mkdir(path.join(root, 'pub'));
    await writeFile(path.join(root, '.profile'), 'profile');
    await writeFile(path.join(root, '.config/app.ini'), 'ini');
    await writeFile(path.join(root, 'pub/.keep'), '');
    await writeFile(path.join(root, 'readme.txt'), 'readme');
    users = await testUsers([
      { username: 'dots', password: 'pw', home: root },
      { username: 'all', password: 'pw', home: root, hideDotFiles: false },
    ]);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const server = useFerry(() => ({
    authenticator: users,
    storageFor: (p) => userTree(p, onlyReads(p)),
    hideDotFiles: true,
  }));
  const everything = ['.config', '.profile', 'pub', 'readme.txt'];

  test('LIST, NLST and STAT leave dot-files out without -a; -a and MLSD show them', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'dots', track);
      assert.deepEqual(await names(ftp, 'NLST'), ['pub', 'readme.txt']);
      assert.deepEqual(await names(ftp, 'LIST'), ['pub', 'readme.txt']);
      assert.deepEqual(await names(ftp, 'LIST', '-l pub'), []);
      const stat = (await ftp.cmd('STAT .', 212)).lines.slice(1, -1);
      assert.deepEqual(stat.map((l) => l.split(' ').at(-1)).sort(), ['pub', 'readme.txt']);
      assert.deepEqual(await names(ftp, 'LIST', '-a'), everything);
      assert.deepEqual(await names(ftp, 'LIST', '-la'), everything);
      assert.deepEqual(await names(ftp, 'NLST', '-a'), everything);
      assert.deepEqual(await names(ftp, 'LIST', '-A pub'), ['.keep']);
      assert.deepEqual(await names(ftp, 'MLSD'), everything);
      const statAll = (await ftp.cmd('STAT -a .', 212)).lines.slice(1, -1);
      assert.deepEqual(statAll.map((l) => l.split(' ').at(-1)).sort(), everything);
    });
  });

  test('a dot-file named by the client is still there: RETR, CWD, LIST of it, MLST', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'dots', track);
      assert.equal((await ftp.retrieve('.profile')).toString(), 'profile');
      await ftp.cmd('MLST .profile', 250);
      assert.deepEqual(await names(ftp, 'NLST', '.config'), ['.config/app.ini']);
      await ftp.cmd('CWD .config', 250);
      assert.deepEqual(await names(ftp, 'NLST'), ['app.ini']);
    });
  });

  test("an account's hideDotFiles: false wins over the server's", async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'explicit', 'all', track);
      assert.deepEqual(await names(ftp, 'NLST'), everything);
    });
  });

  test("Ferry's own client still lists dot-files (mirror relies on it)", async () => {
    const client = await FerryClient.connect({
      host: server().host,
      port: server().implicitPort,
      security: 'implicit',
      user: 'dots',
      password: 'pw',
      ca: (await testCertificate()).cert,
    });
    try {
      const listed = await client.list('', { all: true });
      assert.deepEqual(listed.map((e) => e.name).sort(), everything);
    } finally {
      await client.close();
    }
  });
});
