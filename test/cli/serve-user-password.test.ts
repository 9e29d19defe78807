/**
 * `ferry serve --user NAME` takes the password from FERRY_PASSWORD, so that `ps` (any local
 * account) never shows it, as `--user NAME:PASSWORD` does; without it and without a terminal the
 * start is refused, saying where the password can come from.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { RawFtp } from '../support/raw-ftp.js';
import { runFerry, ServeProcess } from '../support/ferry-process.js';

const SECRET = 'not-in-ps-9f3k';
let dir: string;
before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-user-password-'))));
after(() => rm(dir, { recursive: true, force: true }));

test('--user alice with FERRY_PASSWORD: alice logs in with it, and the command line does not hold it', async () => {
  // ServeProcess passes this process's environment on.
  process.env['FERRY_PASSWORD'] = SECRET;
  let r: ServeProcess;
  try {
    r = await ServeProcess.start(['--user', 'alice', '--data-dir', path.join(dir, 'data')], dir);
  } finally {
    delete process.env['FERRY_PASSWORD'];
  }
  try {
    const cmdline = await readFile(`/proc/${r.child.pid}/cmdline`, 'utf8');
    assert.match(cmdline, /--user\0alice\0/);
    assert.ok(!cmdline.includes(SECRET), cmdline);
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
    try {
      await ftp.expect(220);
      await ftp.cmd('USER alice', 331);
      await ftp.cmd(`PASS ${SECRET}`, 230);
    } finally {
      await ftp.close();
    }
  } finally {
    await r.stop();
  }
});

test('--user alice without FERRY_PASSWORD and no terminal: refused (exit 2), naming the ways to give it', async () => {
  const r = await runFerry([
    'serve',
    '--allow-root',
    '--user',
    'alice',
    '--data-dir',
    path.join(dir, 'none'),
    '--root',
    dir,
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--user alice: no password: set FERRY_PASSWORD, or start on a terminal to type it/);
});
