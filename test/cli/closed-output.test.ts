/**
 * `ferry serve` whose output nobody reads any more (`ferry serve 2>&1 | tee log`, and tee is gone):
 * the banner's write to stderr fails with EPIPE, and so do the log's writes to stdout. The server
 * must go on serving and still stop on SIGTERM. It used to die on the banner's EPIPE and then hang
 * in pino's exit flush, which retries a failed write for ever: a frozen server that served nobody.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FERRY_MAIN, ferryUsers, serveArgv } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-closed-output-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a server whose stdout and stderr readers are gone serves a login and stops on SIGTERM', async () => {
  const { implicitPort: port, argv } = await serveArgv();
  const child = spawn(
    process.execPath,
    [...argv, '--workers', '1', '--root', dir, '--data-dir', path.join(dir, 'data'), '--user', 'ann:secret'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } },
  );
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    // Nobody reads stderr: the banner (written once the ports are bound) meets a closed pipe.
    child.stderr.destroy();
    // Read stdout until the implicit listener is up, then stop reading it too.
    await new Promise<void>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (/"msg":"listening"/.test(text) && /"mode":"implicit"/.test(text)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`ferry serve exited ${code}: ${text}`)));
    });
    child.stdout.destroy();

    const ftp = await RawFtp.connect({ host: '127.0.0.1', port, implicit: true });
    try {
      await ftp.expect(220);
      await ftp.login('ann', 'secret');
      await ftp.cmd('NOOP', 200);
    } finally {
      await ftp.close();
    }
    assert.equal(child.exitCode, null, 'still serving');

    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [0, null], 'a graceful stop');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('ferry users list into a pipe already closed (| head): exits 0 quietly, no stack trace', async () => {
  const data = path.join(dir, 'users-data');
  for (const u of ['amy', 'bob', 'cid']) {
    const added = await ferryUsers(data, ['add', u, '--home', dir, '--password-stdin'], 'pw\n');
    assert.equal(added.code, 0, added.stderr);
  }
  const child = spawn(process.execPath, [FERRY_MAIN, 'users', 'list', '--data-dir', data], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy(); // the reader is gone before the first line: every write is EPIPE
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
});
