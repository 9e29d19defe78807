import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rename, rm, rmdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { claimDataDir, stillMade } from './data-dir-claim.js';
import { handOver, lookupUser } from './run-as.js';
import { StartLeftovers } from './start-leftovers.js';

const isRoot = process.getuid?.() === 0;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-claim-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a data directory made by this start is claimed as made, its parents made too', async (t) => {
  const data = path.join(await tempDir(t), 'a', 'dd');
  const claim = await claimDataDir(data);
  assert.ok(claim.made);
  assert.equal((await stat(data)).mode & 0o777, 0o700);
  assert.equal(await stillMade(claim), true);
});

test('a data directory that appears between the check and the make is not claimed', async (t) => {
  const data = path.join(await tempDir(t), 'dd');
  // Another user's, made in a shared (1777) parent just before ours would be.
  const claim = await claimDataDir(data, async () => {
    await mkdir(data);
    await chmod(data, 0o777);
  });
  assert.equal(claim.made, undefined);
  assert.equal(await stillMade(claim), false);
});

test('a data directory there already is not claimed', async (t) => {
  const data = await tempDir(t);
  assert.equal((await claimDataDir(data)).made, undefined);
});

test('the made directory opened up or replaced is no longer the one made', async (t) => {
  const dir = await tempDir(t);
  const data = path.join(dir, 'dd');
  const claim = await claimDataDir(data);
  await chmod(data, 0o777);
  assert.equal(await stillMade(claim), false);
  await chmod(data, 0o700);
  assert.equal(await stillMade(claim), true);
  await mkdir(path.join(dir, 'other'), { mode: 0o700 }); // made first: not the same inode reused
  await rmdir(data);
  await rename(path.join(dir, 'other'), data);
  assert.equal(await stillMade(claim), false);
});

test('a failed start removes the empty data directory it made, not one put in its place', async (t) => {
  const dir = await tempDir(t);
  const data = path.join(dir, 'dd');
  const made = await claimDataDir(data);
  await new StartLeftovers(made, undefined, []).settle();
  await assert.rejects(stat(data), { code: 'ENOENT' });

  const claim = await claimDataDir(data);
  await mkdir(path.join(dir, 'theirs'), { mode: 0o700 });
  await rmdir(data);
  await rename(path.join(dir, 'theirs'), data);
  await new StartLeftovers(claim, undefined, []).settle();
  assert.ok((await stat(data)).isDirectory(), `${data} was removed`);
});

test(
  'handOver gives the run-as user the data directory made, not one put in its place',
  { skip: !isRoot },
  async (t) => {
    const user = lookupUser('nobody', 'test');
    const dir = await tempDir(t);
    const data = path.join(dir, 'dd');
    const claim = await claimDataDir(data);
    await handOver([], claim, user);
    assert.equal((await stat(data)).uid, user.uid);

    const other = path.join(dir, 'ee');
    const replaced = await claimDataDir(other);
    await mkdir(path.join(dir, 'theirs'), { mode: 0o700 });
    await rmdir(other);
    await rename(path.join(dir, 'theirs'), other);
    await handOver([], replaced, user);
    assert.equal((await stat(other)).uid, 0);
  },
);
