// The lock file beside a file several processes edit: it names its holder, a lock a dead process
// left is taken at once, a live holder is waited for.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { withFileLock } from './file-lock.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('file lock', () => {
  it('holds the PID and host of its holder while held, and is gone after', async (t) => {
    const file = join(await tempDir(t), 'users.yaml');
    const seen = await withFileLock(file, () => readFile(`${file}.lock`, 'utf8'));
    assert.equal(seen, `${process.pid} ${hostname()}\n`);
    await assert.rejects(readFile(`${file}.lock`), { code: 'ENOENT' });
  });

  it('a lock left by a dead process of this host is taken over at once, and said so', async (t) => {
    const file = join(await tempDir(t), 'users.yaml');
    const dead = spawnSync(process.execPath, ['-e', '']).pid; // exited: its PID is free
    await writeFile(`${file}.lock`, `${dead} ${hostname()}\n`); // fresh: not 60 s old
    const told: string[] = [];
    const ran = await withFileLock(file, async () => 'ran', { waitMs: 0, onTakeover: (m) => told.push(m) });
    assert.equal(ran, 'ran');
    assert.equal(told.length, 1);
    assert.match(told[0] ?? '', new RegExp(`taken over from process ${dead}, which died`));
  });

  it('a live holder (or one on another host) is waited for: busy when the wait is over', async (t) => {
    const file = join(await tempDir(t), 'users.yaml');
    for (const holder of [`${process.pid} ${hostname()}`, `1 elsewhere.example`, '']) {
      await writeFile(`${file}.lock`, `${holder}\n`);
      await assert.rejects(
        withFileLock(file, async () => 'ran', { waitMs: 0 }),
        (err: Error & { code?: string }) => err.code === 'ERR_BUSY' && err.message.includes(holder),
        holder,
      );
    }
  });

  it('a lock planted as a link (to a FIFO, or to a secret) is neither followed nor read: busy, naming nobody', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'users.yaml');
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const secret = join(dir, 'secret');
    await writeFile(secret, 'hunter2\n');
    for (const target of [fifo, secret]) {
      await rm(`${file}.lock`, { force: true });
      await symlink(target, `${file}.lock`);
      // Reading a FIFO through the link would block this wait forever; the secret would be quoted.
      await assert.rejects(
        withFileLock(file, async () => 'ran', { waitMs: 0 }),
        (err: Error & { code?: string }) => err.code === 'ERR_BUSY' && !err.message.includes('hunter2'),
        target,
      );
    }
  });
});
