/**
 * The first count of a quota user's home (a scan) with a directory in it the server cannot read: the
 * directory counts nothing and is logged, and the user's uploads go on. As root (CI) the server runs
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
import { FERRY_MAIN, ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

const run = promisify(execFile);

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-quota-unreadable-'));
  await chmod(dir, 0o755); // the run-as user must reach what it serves
});
after(async () => {
  await chmod(path.join(dir, 'sq', 'locked'), 0o755).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

test('a directory the server cannot read in a quota user’s home is not counted, is logged, and stops no upload', async () => {
  const owner = await unprivilegedAccount();
  const runAs = owner?.name;
  const home = path.join(dir, 'sq');
  const locked = path.join(home, 'locked');
  await mkdir(locked, { recursive: true });
  await writeFile(path.join(home, 'b.txt'), Buffer.alloc(10));
  await writeFile(path.join(locked, 'hidden.bin'), Buffer.alloc(1000));
  await run('mkfifo', [path.join(home, 'pipe')]); // not a regular file: not counted either
  if (owner) for (const p of [home, locked]) await chown(p, owner.uid, owner.gid);
  await chmod(locked, 0o000);
  const data = path.join(dir, 'data');
  const add = await ferryUsers(
    data,
    ['add', 'sq', '--home', home, '--quota-size', '5M', '--password-stdin'],
    'sqpass\n',
  );
  assert.equal(add.code, 0, add.stderr);
  if (owner) await run('chown', ['-R', `${owner.uid}:${owner.gid}`, data]); // as its service would have it
  const server = await ServeProcess.start(
    [...(runAs ? ['--run-as', runAs] : []), '--workers', '1', '--data-dir', data],
    dir,
  );
  try {
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
    await ftp.expect(220);
    await ftp.login('sq', 'sqpass');
    await ftp.cmd('TYPE I', 200);
    const [, done] = await ftp.store('a.bin', Buffer.alloc(100)); // was: 550 Permission denied.
    assert.equal(done.code, 226, done.lines.join('\n'));
    const warned = await server.waitForLog(
      (l) => l.msg === 'quota scan: a directory it cannot read is not counted',
      'the skipped directory logged',
    );
    assert.deepEqual([warned.level, warned.user, warned.dir], [40, 'sq', '/locked']);
    await ftp.close();
    const shown = await ferryUsers(data, ['show', 'sq', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as { usage?: unknown }).usage, { bytes: 110, files: 2 });
    // ferry users rescan, as the user the server runs as, says what it could not count.
    const asOwner = runAs ? ['setpriv', `--reuid=${runAs}`, `--regid=${runAs}`, '--init-groups'] : [];
    const rescan = ['users', 'rescan', 'sq', '--data-dir', data];
    const [cmd = process.execPath, ...args] = [...asOwner, process.execPath, FERRY_MAIN, ...rescan];
    const { stdout } = await run(cmd, args);
    assert.equal(stdout, 'sq: 110 B in 2 files (not counted: unreadable /locked)\n');
  } finally {
    await server.stop();
  }
});
