/**
 * rclone with its defaults (--transfers 4 --checkers 8: several control connections sharing one TLS
 * session cache, so a data connection offers a session issued to a sibling control connection)
 * against `ferry serve --workers 2 --session-reuse-scope user`: the siblings land in one worker and
 * their sessions resume. Without the option the same copy fails (522). Needs Debian's rclone
 * (scripts/setup-peers.sh installs it).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { expectSuccess, runProcess } from '../support/clients.js';
import { ServeProcess } from '../support/ferry-process.js';

const RCLONE = '/usr/bin/rclone';
const FILES = 50;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-rclone-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test(
  'rclone copy with its defaults (several connections, one TLS session cache) succeeds against --workers 2 --session-reuse-scope user, every file byte-identical',
  {
    skip: !existsSync(RCLONE) && 'rclone is not installed (bash scripts/setup-peers.sh installs it)',
    timeout: 120_000,
  },
  async () => {
    const [source, root] = [path.join(dir, 'source'), path.join(dir, 'root')];
    await mkdir(source);
    await mkdir(root);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < FILES; i++) files.set(`f${i}.bin`, randomBytes(1 + ((i * 7919) % 65_536)));
    for (const [name, bytes] of files) await writeFile(path.join(source, name), bytes);
    const server = await ServeProcess.start(
      [
        ...['--workers', '2', '--session-reuse-scope', 'user', '--root', root],
        ...['--user', 'rc:pw-rc', '--data-dir', path.join(dir, 'data'), '--log-level', 'warn'],
      ],
      dir,
    );
    try {
      const obscured = expectSuccess(await runProcess(RCLONE, ['obscure', 'pw-rc'])).stdout.trim();
      const remote = {
        RCLONE_CONFIG_FERRY_TYPE: 'ftp',
        RCLONE_CONFIG_FERRY_HOST: '127.0.0.1',
        RCLONE_CONFIG_FERRY_PORT: String(server.explicitPort),
        RCLONE_CONFIG_FERRY_USER: 'rc',
        RCLONE_CONFIG_FERRY_PASS: obscured,
        RCLONE_CONFIG_FERRY_EXPLICIT_TLS: 'true',
        RCLONE_CONFIG_FERRY_NO_CHECK_CERTIFICATE: 'true',
      };
      // No retries: one refused data connection (522) fails the run (after the passive timeout,
      // 30 s). The deadline is far above the 2-4 s a copy takes, for a loaded machine.
      const args = ['copy', source, 'ferry:/dst', '--config', path.join(dir, 'rclone.conf')];
      const run = await runProcess(RCLONE, [...args, '--retries', '1', '--low-level-retries', '1'], {
        env: remote,
        timeoutMs: 60_000,
        secrets: [obscured],
      });
      expectSuccess(run, 'rclone copy');
      const copied = await readdir(path.join(root, 'dst'));
      assert.equal(copied.length, FILES);
      for (const [name, bytes] of files) {
        assert.ok((await readFile(path.join(root, 'dst', name))).equals(bytes), `${name} differs`);
      }
    } finally {
      await server.stop();
    }
  },
);
