// The info line for names no client can address is written once per directory and session: a client
// listing such a directory again and again (300 pipelined STAT) must not flood the log.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

test('300 STAT of a directory holding a Latin-1 name log it once', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'g2-statflood-'));
  const home = path.join(dir, 'h');
  await mkdir(path.join(home, 'm'), { recursive: true });
  await mkdir(path.join(home, 'n'));
  for (const d of ['m', 'n'])
    await writeFile(Buffer.from(path.join(home, d) + '/caf\xe9.txt', 'latin1'), 'x');
  const data = path.join(dir, 'data');
  const add = await ferryUsers(data, ['add', 'u', '--home', home, '--password-stdin'], 'upass\n');
  assert.equal(add.code, 0, add.stderr);
  const server = await ServeProcess.start(['--data-dir', data], dir);
  try {
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
    await ftp.expect(220);
    await ftp.login('u', 'upass');
    const before = server.log.length;
    for (let i = 0; i < 300; i++) await ftp.cmd('STAT m', 212);
    await ftp.cmd('STAT n', 212);
    // The log reaches the test through a pipe, after the reply: wait for n's line, the last one.
    const isTold = (l: { msg?: unknown }): boolean => String(l.msg).startsWith('listing left out');
    await server.waitForLog((l) => isTold(l) && l.dir === '/n', 'the line for /n');
    const told = server.log.slice(before).filter(isTold);
    assert.deepEqual(
      told.map((l) => l.dir),
      ['/m', '/n'],
    );
    await ftp.close();
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
