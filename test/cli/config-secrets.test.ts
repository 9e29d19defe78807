/**
 * A config file that holds secrets (users' password hashes, admin.token) and that any account may
 * read (root's umask writes /etc/ferry/ferry.yaml 0644) is warned of at start and at each reload,
 * as a key file others can read is; a private one is not.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ServeProcess } from '../support/ferry-process.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-config-secrets-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a config file others can read that holds password hashes: warned at start and at a reload, not once private', async () => {
  const root = path.join(dir, 'root');
  await mkdir(root);
  const config = path.join(dir, 'ferry.yaml');
  const users = `users:\n  - name: alice\n    passwordHash: ${await testHash('pw')}\n    home: ${root}\n`;
  await writeFile(config, users);
  await chmod(config, 0o644);
  const warning = `the config file ${config} is readable by others (mode 0644) and holds users' password hashes: make it private`;
  const r = await ServeProcess.start(
    ['--config', config, '--workers', '1', '--data-dir', path.join(dir, 'data')],
    dir,
  );
  try {
    assert.ok(r.banner.includes(`WARNING   ${warning}`), r.banner);
    // Its log line too (lines are written in batches: it may come after the banner).
    await r.waitForLog((l) => l.msg?.startsWith(warning) === true, 'the start warning logged');
    const reload = async (): Promise<string[]> => {
      const from = r.log.length;
      r.child.kill('SIGHUP');
      await r.waitForLog((l) => r.log.indexOf(l) >= from && l.msg === 'configuration reloaded', 'reloaded');
      return r.log.slice(from).flatMap((l) => (l.level === 40 ? [l.msg ?? ''] : []));
    };
    await chmod(config, 0o640);
    assert.deepEqual(await reload(), []);
    await chmod(config, 0o644);
    const warned = await reload();
    assert.equal(warned.length, 1, warned.join('\n'));
    assert.ok(warned[0]?.startsWith(warning), warned[0]);
  } finally {
    assert.equal(await r.stop(), 0);
  }
});
