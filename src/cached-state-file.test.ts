// A state file read on every resume and every replacing upload is parsed again only when another
// writer replaced it (or it went), never for a read of the version already parsed.
import assert from 'node:assert/strict';
import fsp, { mkdtemp, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeAtomically } from './atomic-file.js';
import { CachedStateFile, SETTLED_MS } from './cached-state-file.js';

describe('cached state file', () => {
  it('parses once per version of the file: again after another writer’s replacement, not after its own', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cached-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.json');
    const parsed: (string | undefined)[] = [];
    const cache = new CachedStateFile(file, (text) => {
      parsed.push(text);
      return text ?? 'none';
    });
    assert.equal(await cache.read(), 'none');
    await writeAtomically(file, 'one');
    assert.equal(await cache.read(), 'one');
    assert.equal(await cache.read(), 'one');
    assert.deepEqual(parsed, [undefined, 'one'], 'the second read of "one" parsed nothing');
    await writeAtomically(file, 'two'); // another process's write: the same length, a new inode
    assert.equal(await cache.read(), 'two');
    await writeAtomically(file, 'own');
    cache.wrote('own', 'own (as written)');
    assert.equal(await cache.read(), 'own (as written)', 'its own write is not parsed again');
    await unlink(file);
    assert.equal(await cache.read(), 'none');
    assert.deepEqual(parsed, [undefined, 'one', 'two', undefined]);
  });

  it('sees a new version with the inode, size and modification time of the one read (ext4 reuses inodes; coarse clocks repeat times)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cached-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.json');
    const cache = new CachedStateFile(file, (text) => text ?? 'none');
    await writeAtomically(file, 'aaaa');
    const before = await stat(file);
    assert.equal(await cache.read(), 'aaaa');
    // Another writer's version, made to look like the one read: same inode (the file rewritten in
    // place), same size, the times set back.
    await writeFile(file, 'bbbb');
    await utimes(file, before.atime, before.mtime);
    assert.equal(await cache.read(), 'bbbb');
  });

  it('does not read a settled version again while its identity holds; reads another writer’s replacement', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cached-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.json');
    // The clock SETTLED_MS ahead: the version just written counts as settled.
    const cache = new CachedStateFile(file, (text) => text ?? 'none', { now: () => Date.now() + SETTLED_MS });
    await writeAtomically(file, 'one');
    const reads = t.mock.method(fsp, 'readFile');
    syncBuiltinESMExports(); // state-file.ts's named import follows the mock
    t.after(() => {
      reads.mock.restore();
      syncBuiltinESMExports();
    });
    assert.equal(await cache.read(), 'one');
    assert.equal(await cache.read(), 'one');
    assert.equal(await cache.read(), 'one');
    assert.equal(reads.mock.callCount(), 1, 'read once, then known by its identity');
    await writeAtomically(file, 'two'); // another process's version: a new inode (the old one was in use)
    assert.equal(await cache.read(), 'two');
    assert.equal(reads.mock.callCount(), 2);
  });
});
