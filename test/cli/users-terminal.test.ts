/**
 * `ferry users` without a server: the users file named by --config (accounts.file or dataDir), and
 * the password typed on a terminal without echo (run under script(1), which gives it a pty).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { verifyPassword } from '../../src/auth/password.js';
import { readUsersFile } from '../../src/auth/users-file.js';
import { FERRY_MAIN } from '../support/ferry-process.js';
import { withDeadline } from '../support/raw-ftp.js';

let dir: string;
let home: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-users-tty-'));
  home = path.join(dir, 'home');
  await mkdir(home);
});
after(() => rm(dir, { recursive: true, force: true }));

async function run(args: string[], input = ''): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, [FERRY_MAIN, 'users', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, out };
}

describe('ferry users without a server', { timeout: 60_000 }, () => {
  test('--config: the users file is accounts.file (relative to the config), else users.yaml in its dataDir', async () => {
    const withFile = path.join(dir, 'a.yaml');
    await writeFile(withFile, 'accounts: { file: accounts/people.yaml }\n');
    assert.equal(
      (await run(['add', 'ann', '--home', home, '--password-stdin', '--config', withFile], 'x\n')).code,
      0,
    );
    assert.ok((await readUsersFile(path.join(dir, 'accounts', 'people.yaml'))).has('ann'));

    const withDataDir = path.join(dir, 'b.yaml');
    await writeFile(withDataDir, 'dataDir: state\n');
    assert.equal(
      (await run(['add', 'bo', '--home', home, '--password-stdin', '--config', withDataDir], 'y\n')).code,
      0,
    );
    assert.ok((await readUsersFile(path.join(dir, 'state', 'users.yaml'))).has('bo'));
    const shown = await run(['show', 'bo', '--config', withDataDir]);
    assert.match(shown.out, /^name\s+bo$/m);
  });

  test('on a terminal the password is asked twice and never echoed', async () => {
    const data = path.join(dir, 'tty');
    const command = [process.execPath, FERRY_MAIN, 'users', 'add', 'tess', '--home', home, '--data-dir', data]
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      waiters.splice(0).forEach((w) => w());
    });
    const prompt = (text: string): Promise<void> =>
      withDeadline(
        new Promise<void>((resolve) => {
          const check = (): void => (out.includes(text) ? resolve() : void waiters.push(check));
          check();
        }),
        20_000,
        `the prompt "${text}"`,
      );
    const exited = once(child, 'exit');
    await prompt('New password for tess: ');
    child.stdin.write('typed-secret\r');
    await prompt('Again: ');
    child.stdin.write('typed-secret\r');
    const [code] = (await exited) as [number];
    assert.equal(code, 0, out);
    assert.match(out, /added tess/);
    assert.doesNotMatch(out, /typed-secret/, 'not echoed, not printed');
    const tess = (await readUsersFile(path.join(data, 'users.yaml'))).get('tess');
    assert.ok(tess && (await verifyPassword('typed-secret', tess.passwordHash)));
  });
});
