/**
 * A data directory on a full disk: `ferry users add` and a first `ferry serve` (its certificate to
 * generate) fail, saying which file they could not write (they printed only `ferry: ENOSPC: no
 * space left on device, write`), and leave nothing half-written. A real full filesystem: a 1 MiB
 * tmpfs (mounting needs root, as CI has).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { FERRY_MAIN, ferryUsers, runFerry, serveArgv } from '../support/ferry-process.js';

const run = promisify(execFile);

describe('a data directory on a full disk', { skip: process.getuid?.() !== 0 }, () => {
  let dir: string;
  let mount: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-full-data-'));
    mount = path.join(dir, 'm');
    await mkdir(mount);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    await mkdir(path.join(mount, 'users'));
    await mkdir(path.join(mount, 'serve'));
    await run('dd', ['if=/dev/zero', `of=${path.join(mount, 'fill')}`, 'bs=64k']).catch(() => {});
  });
  after(async () => {
    await run('umount', [mount]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('ferry users add names the file it could not write', async () => {
    const data = path.join(mount, 'users');
    const r = await ferryUsers(data, ['add', 'u', '--home', dir, '--password-stdin'], 'pw\n');
    assert.equal(r.code, 1);
    const file = path.join(data, 'users.yaml');
    assert.equal(r.stderr, `ferry: ${file}: ENOSPC: no space left on device, write\n`);
    assert.deepEqual(await readdir(data), [], 'nothing half-written');
  });

  it('a first ferry serve names the certificate file it could not write', async () => {
    const data = path.join(mount, 'serve');
    const { argv } = await serveArgv();
    const args = [
      ...argv.filter((a) => a !== FERRY_MAIN),
      '--root',
      dir,
      '--data-dir',
      data,
      '--user',
      'u:p',
    ];
    const r = await runFerry([...args, '--workers', '1']);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`^ferry: ${data}/[^ :]+: ENOSPC: no space left on device, write$`, 'm'),
    );
    assert.deepEqual(await readdir(data), [], 'nothing half-written');
  });
});
