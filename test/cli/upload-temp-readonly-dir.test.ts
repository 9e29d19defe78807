// A failed upload's temp file in a directory the user made read-only (SITE CHMOD 555 from a second
// session) is still removed: left there it was not counted, so it let a user pass their quota.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { unprivilegedAccount } from '../support/accounts.js';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';

const run = promisify(execFile);
let dir: string;
let home: string;
let server: ServeProcess;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'g2-tempreadonly-'));
  await chmod(dir, 0o755);
  const owner = await unprivilegedAccount();
  assert.ok(owner, 'needs root to run as a test user');
  home = path.join(dir, 'ru');
  await mkdir(home);
  const data = path.join(dir, 'data');
  const add = await ferryUsers(
    data,
    ['add', 'ru', '--home', home, '--password-stdin', '--quota-size', '102400'],
    'rupass\n',
  );
  assert.equal(add.code, 0, add.stderr);
  await run('chown', ['-R', `${owner.uid}:${owner.gid}`, data, home]);
  server = await ServeProcess.start(['--run-as', owner.name, '--workers', '1', '--data-dir', data], dir);
});
after(async () => {
  await server?.stop();
  await run('chmod', ['-R', 'u+w', dir]).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function session(): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login('ru', 'rupass');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

test('a temp file left by SITE CHMOD 555 mid-upload is removed, the mode kept', async () => {
  const a = await session();
  const b = await session();
  try {
    for (let i = 0; i < 4; i++) {
      await b.cmd(`MKD d${i}`, 257);
      const plain = await a.openData(await a.epsv(), { tls: false });
      await a.cmd(`STOR d${i}/f.bin`, 150);
      await b.cmd(`SITE CHMOD 555 d${i}`, 200);
      await a.uploadClean(await a.secureData(plain), randomBytes(64 * 1024));
      const r = await a.expect();
      assert.ok(r.code === 550 || r.code === 551, textOf(r)); // the rename into the read-only directory is refused
      assert.deepEqual(await readdir(path.join(home, `d${i}`)), [], `temp file left in d${i}`);
      assert.equal((await stat(path.join(home, `d${i}`))).mode & 0o777, 0o555, "the user's mode stays");
      await b.cmd(`SITE CHMOD 755 d${i}`, 200);
    }
    // Nothing uncounted left: the quota (100 KiB) still takes a 64 KiB upload.
    const [, stored] = await a.store('after.bin', randomBytes(64 * 1024));
    assert.equal(stored.code, 226, textOf(stored));
  } finally {
    await a.close();
    await b.close();
  }
});
