/**
 * Permissions per virtual path (issue 9): each permission refused on each command that needs it,
 * with `550 Permission denied: NAME` (STOR: 553, RFC 959 gives it no 550) at the first
 * command that needs it (RNFR, not RNTO; STOR before its 150), logged; the longest covering rule
 * wins; MLSx perm facts follow the rules.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { PERMISSIONS, type Permission, type PermissionRules } from '../../src/auth/permissions.js';
import { UserTable } from '../../src/auth/users.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { loggedIn, MODES, textOf, useFerry, waitForLog, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

/** `/deny-P` allows everything but P; `/pub` only reading, `/pub/drop` writing again (longer rule). */
const rules: Record<string, readonly Permission[] | '*'> = {
  '/pub': ['list', 'download'],
  '/pub/drop': '*',
  '/incoming': ['list', 'upload'],
  '/box': ['list', 'upload', 'rename'],
  '/tree/locked': ['list', 'download'],
};
for (const p of PERMISSIONS) rules[`/deny-${p}`] = PERMISSIONS.filter((x) => x !== p);

const files: Record<string, string> = {
  '/f': 'root file',
  '/pub/f': 'public',
  '/pub/drop/keep': '',
  '/incoming/old': 'old',
  '/box/a.csv': 'a',
  '/box/b.csv': 'b',
  '/tree/locked/contract.pdf': 'keep',
};
for (const p of PERMISSIONS) files[`/deny-${p}/f`] = 'data';

/** Each permission and commands that need it, run inside /deny-P (`f` exists there). */
const CASES: Record<Permission, string[]> = {
  list: ['LIST', 'NLST', 'MLSD', 'MLST', 'MLST f', 'SIZE f', 'MDTM f', 'STAT .', 'LIST -la .'],
  download: ['RETR f', 'HASH f'],
  upload: ['STOR new', 'APPE new', 'STOU'],
  overwrite: ['STOR f', 'APPE f', 'MFMT 20200102030405 f', 'MDTM 20200102030405 f'],
  delete: ['DELE f'],
  rename: ['RNFR f'],
  mkdir: ['MKD d'],
  rmdir: ['RMD sub'],
  chmod: ['SITE CHMOD 600 f'],
};

describe('permissions per virtual path', { timeout: 120_000 }, () => {
  let table: UserTable;
  before(async () => {
    table = await testUsers([
      { username: 'alice', password: 'secret', home: '/tenant', permissions: rules as PermissionRules },
    ]);
  });
  const server = useFerry(() => ({
    authenticator: table,
    storageFor: () => new MemoryStorage({ files }),
  }));

  for (const mode of MODES) {
    test(`${mode}: each permission is refused on each command that needs it, and logged`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('MKD /deny-rmdir/sub', 257);
        for (const [perm, commands] of Object.entries(CASES)) {
          await ftp.cmd(`CWD /deny-${perm}`, 250);
          for (const line of commands) {
            const from = server().logs.length;
            const r = await ftp.cmd(line);
            const code = /^(STOR|STOU)\b/.test(line) ? 553 : 550; // RFC 959 gives STOR and STOU no 550
            assert.equal(r.code, code, `${line} in /deny-${perm}: ${textOf(r)}`);
            assert.equal(textOf(r), `Permission denied: ${perm}`, line);
            const log = await waitForLog(server(), (l) => l.msg === 'permission denied', from);
            assert.deepEqual(
              {
                permission: (log.obj as { permission: string }).permission,
                user: (log.obj as { user: string }).user,
              },
              { permission: perm, user: 'alice' },
            );
          }
        }
      });
    });

    test(`${mode}: the same commands pass the policy where the permission is held`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        for (const [perm, commands] of Object.entries(CASES)) {
          // Every other /deny-X directory holds P: run P's commands in one of them.
          const other = perm === 'list' ? 'download' : 'list';
          await ftp.cmd(`CWD /deny-${other}`, 250);
          if (perm === 'rmdir') await ftp.cmd('MKD sub', 257);
          for (const line of commands) {
            const r = await ftp.cmd(line);
            assert.doesNotMatch(textOf(r), /Permission denied/, `${line} in /deny-${other}`);
            if (r.code === 350) await ftp.cmd('RNTO g', 250); // RNFR answered: finish it
          }
        }
      });
    });

    test(`${mode}: STOR is refused before its 150; RNFR carries the refusal, not RNTO`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.pasv();
        await ftp.cmd('STOR /pub/new', 553);
        assert.ok(ftp.noPendingReplies);
        await ftp.cmd('RNFR /pub/f', 550);
        // Into a directory without rename: refused at RNTO (the destination needs it too).
        await ftp.cmd('RNFR /f', 350);
        assert.equal(textOf(await ftp.cmd('RNTO /pub/g', 550)), 'Permission denied: rename');
      });
    });

    test(`${mode}: a rename neither replaces a file without overwrite nor moves a directory out from under its rules`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('RNFR /box/b.csv', 350);
        assert.equal(textOf(await ftp.cmd('RNTO /box/a.csv', 550)), 'Permission denied: overwrite');
        await ftp.cmd('RNFR /box/b.csv', 350);
        await ftp.cmd('RNTO /box/c.csv', 250); // a new name: rename is all it needs
        // Onto an empty directory: it is replaced, which needs rmdir there.
        for (const d of ['/deny-rmdir/e1', '/deny-rmdir/e2', '/deny-delete/e1', '/deny-delete/e2'])
          await ftp.cmd(`MKD ${d}`, 257);
        await ftp.cmd('RNFR /deny-rmdir/e1', 350);
        assert.equal(textOf(await ftp.cmd('RNTO /deny-rmdir/e2', 550)), 'Permission denied: rmdir');
        await ftp.cmd('RNFR /deny-delete/e1', 350);
        await ftp.cmd('RNTO /deny-delete/e2', 250);
        // /tree/locked is list and download only: renaming /tree would leave it unprotected as /moved/locked.
        assert.match(textOf(await ftp.cmd('RNFR /tree', 550)), /permissions of their own/);
        await ftp.cmd('DELE /tree/locked/contract.pdf', 550);
      });
    });

    test(`${mode}: the longest rule wins; an upload-only drop box cannot overwrite or delete`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        await ftp.cmd('MKD /pub/x', 550);
        await ftp.cmd('MKD /pub/drop/x', 257);
        await ftp.cmd('RMD /pub/drop/x', 250);
        assert.equal(textOf(await ftp.cmd('STOR /incoming/old', 553)), 'Permission denied: overwrite');
        assert.equal(textOf(await ftp.cmd('DELE /incoming/old', 550)), 'Permission denied: delete');
        assert.equal(textOf(await ftp.cmd('RETR /incoming/old', 550)), 'Permission denied: download');
        // `/publications` is not under `/pub`.
        await ftp.cmd('MKD /publications', 257);
      });
    });

    test(`${mode}: MLSx perm facts show the permissions at each path`, async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const perm = async (path: string): Promise<string> =>
          /perm=([a-z]*);/.exec(textOf(await ftp.cmd(`MLST ${path}`, 250)))?.[1] ?? '?';
        assert.equal(await perm('/f'), 'rwadf');
        // The root: no d or f, as RMD and RNFR refuse it.
        assert.equal(await perm('/'), 'elcmp');
        await ftp.cmd('RMD /', 550);
        await ftp.cmd('RNFR /', 550);
        assert.equal(await perm('/pub/f'), 'r');
        assert.equal(await perm('/pub'), 'el');
        assert.equal(await perm('/pub/drop'), 'elcmpdf');
        assert.equal(await perm('/incoming'), 'elc');
        assert.equal(await perm('/incoming/old'), '');
        assert.equal(await perm('/deny-delete/f'), 'rwaf');
      });
    });
  }
});
