/**
 * On a terminal, `ferry ls ftps://USER@host/` with no password in the URL, FERRY_PASSWORD or
 * ~/.netrc asks for it without echo, as curl -u USER and lftp do (run under script(1) for a pty);
 * without a terminal it still fails at once, saying where a password can come from.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startFerry, type TestServer } from '../support/ferry.js';
import { FERRY_MAIN } from '../support/ferry-process.js';
import { withDeadline } from '../support/raw-ftp.js';
import { ferry } from './helpers.js';

describe('the CLI asks for a missing password on a terminal', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let home: string;
  before(async () => {
    ts = await startFerry();
    await writeFile(path.join(ts.root, 'listed.txt'), 'x');
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-prompt-home-')); // no .netrc there
  });
  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('prompts once, never echoes, and logs in with what was typed', async () => {
    const url = `ftps://${ts.user}@127.0.0.1:${ts.implicitPort}/`;
    const command = [process.execPath, FERRY_MAIN, 'ls', '--insecure', url].map((a) => `'${a}'`).join(' ');
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: home };
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    const waiters: (() => void)[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      waiters.splice(0).forEach((w) => w());
    });
    const exited = once(child, 'exit');
    const prompt = `Password for ${ts.user}@127.0.0.1:${ts.implicitPort}: `;
    await withDeadline(
      new Promise<void>((resolve) => {
        const check = (): void => (out.includes(prompt) ? resolve() : void waiters.push(check));
        check();
      }),
      20_000,
      'the password prompt',
    );
    child.stdin.write(`${ts.password}\r`);
    const [code] = (await exited) as [number];
    assert.equal(code, 0, out);
    assert.match(out, /listed\.txt/);
    assert.equal(out.split(prompt).length, 2, 'asked once');
    assert.ok(!out.includes(ts.password), 'not echoed');
  });

  it('without a terminal: no prompt, the error says where a password comes from', async () => {
    const r = await ferry(['ls', '--insecure', `ftps://${ts.user}@127.0.0.1:${ts.implicitPort}/`], {
      HOME: home,
    });
    assert.equal(r.code, 5, r.stderr); // authentication
    assert.match(r.stderr, /No password for alice@127\.0\.0\.1: put it in FERRY_PASSWORD or ~\/\.netrc/);
  });
});
