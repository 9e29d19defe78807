/**
 * LIST, NLST and MLSD of a directory the server's account cannot read (mode 000): one 550 before
 * any 150, as RFC 959 wants the error before the data connection is used (it was 150, then 451),
 * and the data connection the client opened is closed without data. STAT of it: the same 550; CWD
 * into it: 550; MLST's perm of it: nothing it cannot do. As root (CI) the server runs
 * as a test user (`--run-as`): root reads a mode-000 directory.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { unprivilegedAccount } from '../support/accounts.js';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';

const run = promisify(execFile);

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-unreadable-list-'));
  await chmod(dir, 0o755); // the run-as user must reach what it serves
});
after(async () => {
  await chmod(path.join(dir, 'lu', 'locked'), 0o755).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

test('a listing of a directory the server cannot read: 550 before any 150, the data connection closed unused', async () => {
  const owner = await unprivilegedAccount();
  const runAs = owner?.name;
  const home = path.join(dir, 'lu');
  const locked = path.join(home, 'locked');
  await mkdir(locked, { recursive: true });
  await writeFile(path.join(home, 'a.txt'), 'a');
  await writeFile(path.join(locked, 'hidden.txt'), 'h');
  if (owner) for (const p of [home, locked]) await chown(p, owner.uid, owner.gid);
  await chmod(locked, 0o000);
  const data = path.join(dir, 'data');
  const add = await ferryUsers(data, ['add', 'lu', '--home', home, '--password-stdin'], 'lupass\n');
  assert.equal(add.code, 0, add.stderr);
  if (owner) await run('chown', ['-R', `${owner.uid}:${owner.gid}`, data]);
  const server = await ServeProcess.start(
    [...(runAs ? ['--run-as', runAs] : []), '--workers', '1', '--data-dir', data],
    dir,
  );
  try {
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
    await ftp.expect(220);
    await ftp.login('lu', 'lupass');
    for (const verb of ['LIST', 'NLST', 'MLSD']) {
      const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
      const r = await ftp.cmd(`${verb} locked`);
      assert.deepEqual([r.code, textOf(r)], [550, 'Permission denied.'], `${verb}: one 550`);
      await withDeadline(conn.closed, 10_000, `${verb}: the data connection closed`);
      assert.equal(Buffer.concat(conn.received).length, 0, `${verb}: no data`);
      await ftp.cmd('NOOP', 200); // the next reply is NOOP's: nothing followed the 550
    }
    assert.match(await ftp.listing('NLST'), /a\.txt/, 'a readable directory lists as before');
    // STAT lists it on the control connection: the same 550 as LIST, before any line.
    const stat = await ftp.cmd('STAT locked');
    assert.deepEqual([stat.code, textOf(stat)], [550, 'Permission denied.'], 'STAT: as LIST');
    // Not entered (vsftpd's chdir refuses it too): the working directory stays.
    const cwd = await ftp.cmd('CWD locked');
    assert.deepEqual([cwd.code, textOf(cwd)], [550, 'Permission denied.'], 'CWD');
    assert.match(textOf(await ftp.cmd('PWD', 257)), /^"\/" /);
    // MLST's perm is what this user can do (RFC 3659 7.5.5): neither enter, list nor create in it.
    const perm = /perm=([a-z]*);/.exec(textOf(await ftp.cmd('MLST locked', 250)))?.[1];
    assert.equal(perm?.replace(/[^elcmp]/g, ''), '', `perm=${perm}`);
    assert.match(
      /perm=([a-z]*);/.exec(textOf(await ftp.cmd('MLST /', 250)))?.[1] ?? '',
      /^elcmp/,
      'its own home: all of it',
    );
    await ftp.cmd('CWD /', 250);
    await ftp.close();
  } finally {
    await server.stop();
  }
});
