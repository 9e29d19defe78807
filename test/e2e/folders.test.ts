/**
 * Virtual folders (issue 9), over both modes, built as `ferry serve` builds a user's storage (the
 * home and each folder a LocalStorage of its own, mounted by storage/mounts.ts, inside withLimits):
 * folders listed and entered at any depth, nested; the mount layout refused to RMD, DELE, RNFR and
 * MKD; renames across a folder boundary refused with 553; per-path permissions inside folders;
 * links out of a folder refused; one quota over the home and the folders, kept up to date by every
 * command that changes what the user stores.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onlyReads } from '../../src/auth/permissions.js';
import { UsageFile } from '../../src/auth/usage-file.js';
import { UserTable, type PlainUserEntry } from '../../src/auth/users.js';
import { userTree } from '../../src/cli/user-storage.js';
import type { Reply } from '../../src/protocol/reply.js';
import { withLimits } from '../../src/storage/limited.js';
import { QuotaBook } from '../../src/storage/quota.js';
import { RateBuckets } from '../../src/storage/throttle.js';
import type { RawFtp } from '../support/raw-ftp.js';
import type { TestServer } from '../support/ferry.js';
import { loginAs, MODES, randomData, storeAll, textOf, useFerry, withClients, type Mode } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

const KiB = 1024;
let dir: string;
let usage: UsageFile;
let table: UserTable;
let server: () => TestServer;
/** Host directories by user, then by role: home, shared (at /shared), deep (at /a/b), inner (at /shared/inner). */
const hosts = new Map<string, Record<'home' | 'shared' | 'deep' | 'inner', string>>();

const userOf = (kind: 'plain' | 'quota', mode: Mode): string => `${kind}-${mode}`;
const hostOf = (user: string, role: 'home' | 'shared' | 'deep' | 'inner'): string =>
  hosts.get(user)?.[role] ?? '';

const login = (user: string, mode: Mode, track: (c: RawFtp) => RawFtp): Promise<RawFtp> =>
  loginAs(server(), mode, user, track);
const upload = storeAll;

async function uploaded(ftp: RawFtp, line: string, bytes: Uint8Array): Promise<Reply> {
  const r = await upload(ftp, line, bytes);
  assert.equal(r.code, 226, `${line}: ${textOf(r)}`);
  return r;
}

const lines = (text: string): string[] => text.split('\r\n').filter((l) => l !== '');

describe('virtual folders', { timeout: 180_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-folders-'));
    usage = new UsageFile(path.join(dir, 'usage.json'));
    const entries: PlainUserEntry[] = [];
    for (const mode of MODES) {
      for (const kind of ['plain', 'quota'] as const) {
        const user = userOf(kind, mode);
        const roles = {
          home: path.join(dir, user, 'home'),
          shared: path.join(dir, user, 'shared'),
          deep: path.join(dir, user, 'deep'),
          inner: path.join(dir, user, 'inner'),
        };
        for (const d of Object.values(roles)) await mkdir(d, { recursive: true });
        hosts.set(user, roles);
        await writeFile(path.join(roles.home, 'h.txt'), 'in the home');
        await writeFile(path.join(roles.shared, 's.txt'), 'in the shared folder');
        await writeFile(path.join(roles.deep, 'd.txt'), 'deep down');
        await writeFile(path.join(roles.inner, 'n.txt'), 'nested');
        entries.push({
          username: user,
          password: 'pw',
          home: roles.home,
          folders: { '/shared': roles.shared, '/a/b': roles.deep, '/shared/inner': roles.inner },
          // The folder at /a/b is read-only; /shared/inner/drop may only be uploaded to.
          permissions: { '/a/b': ['list', 'download'], '/shared/inner/drop': ['list', 'upload'] },
          ...(kind === 'quota' ? { quotaSize: 100 * KiB, quotaFiles: 20 } : {}),
        });
      }
    }
    table = await testUsers(entries);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  server = useFerry(() => {
    const limits = { usage: new QuotaBook(usage), rates: new RateBuckets() };
    return {
      authenticator: table,
      storageFor: (p) => withLimits(userTree(p, onlyReads(p)), p, limits),
    };
  });

  for (const mode of MODES) {
    const plain = userOf('plain', mode);
    const quota = userOf('quota', mode);

    test(`${mode}: folders are listed as directories at any depth and can be entered`, async () => {
      await withClients(async (track) => {
        const ftp = await login(plain, mode, track);
        // Neither /shared nor /a exists in the home: the listings show them all the same.
        assert.deepEqual(lines(await ftp.listing('NLST')).sort(), ['a', 'h.txt', 'shared']);
        const list = lines(await ftp.listing('LIST'));
        for (const name of ['a', 'shared'])
          assert.ok(
            list.some((l) => l.startsWith('d') && l.endsWith(` ${name}`)),
            `LIST shows ${name} as a directory: ${list.join(' | ')}`,
          );
        const mlsd = lines(await ftp.listing('MLSD'));
        const shared = mlsd.find((l) => l.endsWith('; shared')) ?? '';
        assert.match(shared, /type=dir;/);
        // Its contents may change, the folder itself may be neither removed nor renamed.
        assert.match(shared, /perm=elcmp;/);
        assert.match(mlsd.find((l) => l.endsWith('; h.txt')) ?? '', /perm=[^;]*d[^;]*f/);
        assert.deepEqual(lines(await ftp.listing('NLST', '/a')), ['/a/b']);
        assert.deepEqual(lines(await ftp.listing('NLST', '/shared')).sort(), [
          '/shared/inner',
          '/shared/s.txt',
        ]);
        const mlst = textOf(await ftp.cmd('MLST /a/b', 250));
        assert.match(mlst, /type=dir;/);
        assert.match(mlst, /perm=el;/);

        await ftp.cmd('CWD /a', 250);
        await ftp.cmd('CWD b', 250);
        assert.match(textOf(await ftp.cmd('PWD', 257)), /"\/a\/b"/);
        assert.equal((await ftp.retrieve('d.txt')).toString(), 'deep down');
        await ftp.cmd('CDUP', 250);
        await ftp.cmd('CWD /shared/inner', 250);
        assert.deepEqual(lines(await ftp.listing('NLST')), ['n.txt']);
        assert.equal((await ftp.retrieve('n.txt')).toString(), 'nested');
        assert.equal((await ftp.retrieve('/shared/s.txt')).toString(), 'in the shared folder');
      });
    });

    test(`${mode}: uploads land in the folder's own directory; renames stay inside one folder`, async () => {
      await withClients(async (track) => {
        const ftp = await login(plain, mode, track);
        const data = randomData(70 * KiB);
        await uploaded(ftp, 'STOR /shared/up.bin', data);
        assert.deepEqual(await readFile(path.join(hostOf(plain, 'shared'), 'up.bin')), Buffer.from(data));
        assert.ok(!(await readdir(hostOf(plain, 'home'))).includes('up.bin'));
        await ftp.cmd('MKD /shared/sub', 257);
        await ftp.cmd('RNFR /shared/up.bin', 350);
        await ftp.cmd('RNTO /shared/sub/moved.bin', 250);
        assert.deepEqual(await readdir(path.join(hostOf(plain, 'shared'), 'sub')), ['moved.bin']);

        // Across a boundary, either way, and between nested folders: 553, nothing moved.
        for (const [from, to] of [
          ['/h.txt', '/shared/h.txt'],
          ['/shared/s.txt', '/s.txt'],
          ['/shared/s.txt', '/shared/inner/s.txt'],
        ]) {
          await ftp.cmd(`RNFR ${from}`, 350);
          const r = await ftp.cmd(`RNTO ${to}`, 553);
          assert.match(textOf(r), /Cannot rename across virtual folders/);
        }
        assert.ok((await readdir(hostOf(plain, 'home'))).includes('h.txt'));
        assert.ok((await readdir(hostOf(plain, 'shared'))).includes('s.txt'));
      });
    });

    test(`${mode}: the mount points cannot be removed, renamed or made`, async () => {
      await withClients(async (track) => {
        const ftp = await login(plain, mode, track);
        // (/a/b is also read-only: its refusals come from the permissions, as 550 too.)
        for (const p of ['/shared', '/a', '/shared/inner']) {
          for (const line of [`RMD ${p}`, `DELE ${p}`, `RNFR ${p}`, `MKD ${p}`]) {
            const r = await ftp.cmd(line);
            assert.equal(r.code, 550, `${line}: ${textOf(r)}`);
            assert.match(textOf(r), /virtual folder/, line);
          }
        }
        // RNFR was refused: there is nothing for an RNTO to rename.
        await ftp.cmd('RNTO /elsewhere', 503);
        // A rename onto a mount point is refused as well.
        await ftp.cmd('RNFR /h.txt', 350);
        assert.match(textOf(await ftp.cmd('RNTO /shared', 550)), /virtual folder/);
        assert.deepEqual((await readdir(hostOf(plain, 'deep'))).sort(), ['d.txt']);
        const stor = await upload(ftp, 'STOR /shared', randomData(10));
        assert.equal(stor.code, 553, textOf(stor)); // RFC 959 gives STOR no 550
        assert.match(textOf(stor), /virtual folder/);
        // /a exists only on the way to /a/b: nothing can be made in it, and its perm fact says so.
        assert.equal((await upload(ftp, 'STOR /a/x', randomData(10))).code, 553);
        await ftp.cmd('MKD /a/x', 550);
        assert.match(textOf(await ftp.cmd('MLST /a', 250)), /perm=el;/);
        assert.match(lines(await ftp.listing('MLSD', '/')).find((l) => l.endsWith('; a')) ?? '', /perm=el;/);
        // A mount point's contents may change: /shared keeps c, m and p.
        assert.match(textOf(await ftp.cmd('MLST /shared', 250)), /perm=elcmp;/);
      });
    });

    test(`${mode}: per-path permissions apply inside folders`, async () => {
      await withClients(async (track) => {
        const ftp = await login(plain, mode, track);
        assert.equal(textOf(await ftp.cmd('STOR /a/b/new', 553)), 'Permission denied: upload');
        assert.equal(textOf(await ftp.cmd('DELE /a/b/d.txt', 550)), 'Permission denied: delete');
        assert.equal(textOf(await ftp.cmd('MKD /a/b/x', 550)), 'Permission denied: mkdir');
        await mkdir(path.join(hostOf(plain, 'inner'), 'drop'));
        await uploaded(ftp, 'STOR /shared/inner/drop/in', randomData(10));
        assert.equal(textOf(await ftp.cmd('RETR /shared/inner/drop/in', 550)), 'Permission denied: download');
      });
    });

    test(`${mode}: a link in a folder leading out of it is refused, into the home too`, async () => {
      await withClients(async (track) => {
        await symlink(
          path.join(hostOf(plain, 'home'), 'h.txt'),
          path.join(hostOf(plain, 'shared'), 'to-home'),
        );
        await symlink(
          path.join(hostOf(plain, 'shared'), 's.txt'),
          path.join(hostOf(plain, 'home'), 'to-shared'),
        );
        const ftp = await login(plain, mode, track);
        await ftp.cmd('RETR /shared/to-home', 550);
        await ftp.cmd('RETR /to-shared', 550);
        await ftp.cmd('CWD /shared/to-home', 550);
      });
    });

    test(`${mode}: one quota over the home and the folders, kept up to date by each change`, async () => {
      await withClients(async (track) => {
        const ftp = await login(quota, mode, track);
        const at = async (bytes: number, files: number, after: string): Promise<void> =>
          assert.deepEqual(await usage.get(quota), { bytes, files }, after);
        // First upload: the usage is counted over the home and every folder (11 + 20 + 9 + 6).
        await uploaded(ftp, 'STOR /shared/one', randomData(10 * KiB));
        await at(46 + 10 * KiB, 5, 'STOR into a folder');
        await uploaded(ftp, 'APPE /shared/one', randomData(5 * KiB));
        await at(46 + 15 * KiB, 5, 'APPE in a folder');
        await ftp.cmd('CWD /shared/inner', 250);
        const stou = await uploaded(ftp, 'STOU', randomData(KiB));
        await at(46 + 16 * KiB, 6, `STOU in a nested folder (${textOf(stou)})`);
        await uploaded(ftp, 'STOR /h2', randomData(4 * KiB));
        await at(46 + 20 * KiB, 7, 'STOR in the home');
        // A rename inside a folder onto an existing file frees the file it replaces.
        await uploaded(ftp, 'STOR /shared/two', randomData(2 * KiB));
        await ftp.cmd('RNFR /shared/two', 350);
        await ftp.cmd('RNTO /shared/one', 250);
        await at(46 + 7 * KiB, 7, 'RNTO replacing a file in a folder');
        // Into a folder from the home: refused (553), nothing changes.
        await ftp.cmd('RNFR /h2', 350);
        await ftp.cmd('RNTO /shared/h2', 553);
        await at(46 + 7 * KiB, 7, 'RNTO refused across the boundary');
        await ftp.cmd('DELE /shared/one', 250);
        await at(46 + 5 * KiB, 6, 'DELE in a folder');
        await ftp.cmd('MKD /shared/empty', 257);
        await ftp.cmd('RMD /shared/empty', 250);
        await at(46 + 5 * KiB, 6, 'RMD of an empty directory');

        // Crossing the quota in the middle of an upload inside a folder: 552, the old file intact.
        const host = path.join(hostOf(quota, 'shared'), 'big');
        await uploaded(ftp, 'STOR /shared/big', randomData(40 * KiB));
        const before = await readFile(host);
        const r = await upload(ftp, 'STOR /shared/big', randomData(200 * KiB));
        assert.equal(r.code, 552, textOf(r));
        assert.deepEqual(await readFile(host), before);
        assert.deepEqual((await readdir(hostOf(quota, 'shared'))).sort(), ['big', 's.txt']); // no temp file
        await at(46 + 45 * KiB, 7, 'after the refused upload');
        // The rest of the quota can still be used, in the home or a folder.
        assert.equal((await upload(ftp, 'STOR /shared/inner/fill', randomData(56 * KiB))).code, 552);
        await uploaded(ftp, 'STOR /shared/inner/fill', randomData(50 * KiB));
      });
    });
  }
});
