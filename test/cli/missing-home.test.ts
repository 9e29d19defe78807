/**
 * A user whose home directory does not exist (users.yaml edited by hand) is refused at login, as
 * vsftpd and ProFTPD refuse it, rather than logged in to get 550 for every command: 530 saying the
 * home is unavailable (not where it is), and a warning in the server's log naming the user and the
 * directory. Once the directory exists the same user logs in, with no reload.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-missing-home-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Connected over implicit FTPS, USER sent (331). */
async function userSent(server: ServeProcess, user: string): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.cmd(`USER ${user}`, 331);
  return ftp;
}

test('a home that does not exist refuses the login (530, the log names user and directory)', async () => {
  const data = path.join(dir, 'data');
  const home = path.join(dir, 'missing-home');
  await mkdir(data);
  await writeFile(
    path.join(data, 'users.yaml'),
    `users:\n  - name: carol\n    passwordHash: "${await testHash('pw')}"\n    home: ${home}\n`,
    { mode: 0o600 },
  );
  const server = await ServeProcess.start(['--workers', '1', '--data-dir', data], dir);
  try {
    const refused = await userSent(server, 'carol');
    try {
      const r = await refused.cmd('PASS pw', 530);
      assert.equal(textOf(r), 'Home directory unavailable.');
    } finally {
      await refused.close();
    }
    const warned = await server.waitForLog(
      (l) => l.msg === 'login failed' && l.user === 'carol',
      'the refused login',
    );
    assert.equal(warned.level, 40);
    assert.match(String(warned.reason), /^home unusable: /);
    assert.ok(String(warned.reason).includes(home), String(warned.reason));

    await mkdir(home);
    const ftp = await userSent(server, 'carol');
    try {
      await ftp.cmd('PASS pw', 230);
      await ftp.cmd('CWD /', 250);
    } finally {
      await ftp.close();
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
