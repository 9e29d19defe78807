// StatPool answers as lstat does, and a LocalStorage listing through it equals one without it.
import assert from 'node:assert/strict';
import { lstatSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStorage } from './local.js';
import { StatPool } from './stat-pool.js';
import { ctx, v } from './test-support.js';
import type { FileStat } from './types.js';

async function tree(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-statpool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await Promise.all(Array.from({ length: 300 }, (_, i) => writeFile(join(dir, `f${i}.txt`), 'x'.repeat(i))));
  await mkdir(join(dir, 'sub'));
  await symlink('f1.txt', join(dir, 'link-in'));
  await symlink('/etc/passwd', join(dir, 'link-out'));
  return dir;
}

describe('StatPool', () => {
  it('gives mode, size, mtime, dev and ino as lstat does; undefined for a name that is gone', async (t) => {
    const dir = await tree(t);
    const pool = new StatPool(2);
    t.after(() => pool.close());
    const names = ['f5.txt', 'sub', 'link-in', 'gone', 'f299.txt'];
    const got = await pool.lstat(dir, names);
    for (const [i, name] of names.entries()) {
      const want = lstatSync(join(dir, name), { throwIfNoEntry: false });
      if (!want) assert.equal(got[i], undefined, name);
      else
        assert.deepEqual(got[i], {
          mode: want.mode,
          size: want.size,
          mtimeMs: want.mtimeMs,
          dev: want.dev,
          ino: want.ino,
        });
    }
    await pool.close();
    await assert.rejects(pool.lstat(dir, ['f5.txt']), /closed/);
  });

  it('a LocalStorage listing through the pool equals one without it (links shown only inside)', async (t) => {
    const dir = await tree(t);
    const pool = new StatPool(2);
    t.after(() => pool.close());
    const list = async (s: LocalStorage): Promise<FileStat[]> => {
      const out: FileStat[] = [];
      for await (const e of s.list(v('/'), ctx())) out.push(e);
      return out.sort((a, b) => a.name.localeCompare(b.name));
    };
    const pooled = await list(new LocalStorage({ root: dir, statPool: pool }));
    const plain = await list(new LocalStorage({ root: dir }));
    assert.equal(pooled.length, 303);
    assert.deepEqual(pooled, plain);
    assert.equal(pooled.find((e) => e.name === 'link-in')?.target, '/f1.txt');
    assert.equal(pooled.find((e) => e.name === 'link-out')?.target, undefined);
  });
});
