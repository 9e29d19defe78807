import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../logger.js';
import type { TransferRecord } from '../server/options.js';
import { XferlogFile } from './xferlog-file.js';

const record: TransferRecord = {
  command: 'RETR',
  direction: 'download',
  path: '/a.txt',
  bytes: 1,
  ms: 1,
  result: 'ok',
  at: new Date(2026, 11, 3, 12, 0, 0),
  user: 'alice',
  remoteAddress: '192.0.2.10',
  type: 'I',
  sessionId: 's',
};

test('a relative transfer log stays where it was named, whatever the working directory is when it is reopened', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ferry-xferlog-'));
  const home = process.cwd();
  t.after(() => {
    process.chdir(home);
    rmSync(base, { recursive: true, force: true });
  });
  const started = join(base, 'started');
  const elsewhere = join(base, 'elsewhere');
  mkdirSync(started);
  mkdirSync(elsewhere);
  process.chdir(started);
  const log = new XferlogFile('xfer.log', silentLogger);
  // As a listing borrows the working directory (storage/working-directory.ts) while a SIGHUP reopens it.
  process.chdir(elsewhere);
  // Enough lines that the replaced stream is still writing them when the new one is closed.
  for (let i = 0; i < 2000; i++) log.write(record);
  log.reopen();
  log.write(record);
  await log.close();
  assert.equal(log.path, join(started, 'xfer.log'));
  assert.equal(readFileSync(join(started, 'xfer.log'), 'utf8').split('\n').filter(Boolean).length, 2001);
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing written where the process happened to be');
});
