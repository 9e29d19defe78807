/**
 * The fail2ban filter Ferry ships (packaging/fail2ban/ferry.conf), run by the real fail2ban-regex
 * (scripts/setup-fail2ban.sh installs it) over a log `ferry serve` wrote: each failed login counts
 * for the address it came from, and only it; successful logins and refusals after a right password
 * (too many sessions) do not count; what the rate limit left out counts once, in its summary line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ServeProcess } from '../support/ferry-process.js';
import { REPO_ROOT } from '../support/peers.js';
import { RawFtp } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

const FILTER = path.join(REPO_ROOT, 'packaging/fail2ban/ferry.conf');

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-fail2ban-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An implicit FTPS session from `from` that has sent USER. */
async function attempt(r: ServeProcess, from: string, user: string): Promise<RawFtp> {
  const ftp = await RawFtp.connect({
    host: '127.0.0.1',
    port: r.implicitPort,
    implicit: true,
    localAddress: from,
  });
  await ftp.expect(220);
  await ftp.cmd(`USER ${user}`, 331);
  return ftp;
}

async function failedLogin(r: ServeProcess, from: string, user: string, password: string): Promise<void> {
  const ftp = await attempt(r, from, user);
  try {
    await ftp.cmd(`PASS ${password}`, 530);
  } finally {
    await ftp.close();
  }
}

test('fail2ban-regex with the shipped filter finds each failed login with its address, in a log ferry serve wrote', async () => {
  const root = path.join(dir, 'root');
  await mkdir(root);
  const config = path.join(dir, 'ferry.yaml');
  // The defender off: it would ban the attacker midway, and its refusals are not failed logins.
  await writeFile(
    config,
    `defender:\n  enabled: false\nusers:\n` +
      `  - name: alice\n    passwordHash: ${await testHash('alice-pw')}\n    home: ${root}\n` +
      `  - name: bob\n    passwordHash: ${await testHash('bob-pw')}\n    home: ${root}\n    maxSessions: 1\n`,
  );
  const r = await ServeProcess.start(
    ['--config', config, '--workers', '1', '--data-dir', path.join(dir, 'data')],
    dir,
  );
  const attacks = 8; // 5 written, 3 suppressed (summarized at the stop)
  try {
    for (let i = 0; i < attacks; i++) await failedLogin(r, '127.0.0.2', 'alice', 'guess');
    await failedLogin(r, '127.0.0.3', 'nobody', 'guess');
    // A user name made to look like another address: JSON escapes it, the filter is not fooled.
    await failedLogin(r, '127.0.0.5', 'x","remote":"10.9.9.9', 'guess');
    // Logged in: not a failure; bob's second session is refused after a right password: not one either.
    const alice = await attempt(r, '127.0.0.4', 'alice');
    await alice.cmd('PASS alice-pw', 230);
    const bob = await attempt(r, '127.0.0.6', 'bob');
    await bob.cmd('PASS bob-pw', 230);
    const over = await attempt(r, '127.0.0.6', 'bob');
    await over.cmd('PASS bob-pw', 421);
    await over.close();
    await Promise.all([alice.close(), bob.close()]);
  } finally {
    assert.equal(await r.stop(), 0);
  }
  // The summary is among the last lines: read standard output to its end, not just to the exit.
  const out = r.child.stdout;
  if (out && !out.readableEnded) await once(out, 'end');
  const failed = r.log.filter((l) => l.msg === 'login failed');
  assert.deepEqual(
    failed.map((l) => l.remote),
    ['127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.5'],
  );
  const refused = r.log.find((l) => l.msg === 'login refused');
  assert.equal(refused?.remote, '127.0.0.6');
  assert.match(String(refused?.reason), /too many sessions/);
  const summary = r.log.find((l) => l.msg === 'suppressed 3 similar');
  assert.equal(summary?.remote, '127.0.0.2');
  assert.ok(r.log.some((l) => l.msg === 'login' && l.user === 'alice' && l.remote === '127.0.0.4'));

  const log = path.join(dir, 'ferry.log');
  await writeFile(log, r.lines.map((l) => `${l}\n`).join(''));
  const { stdout } = await promisify(execFile)('fail2ban-regex', ['-o', 'ip', log, FILTER]);
  assert.deepEqual(
    stdout.trim().split('\n').sort(),
    ['127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.5'],
    stdout,
  );
});
