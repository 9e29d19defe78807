// The mount layer: routing by longest prefix, the mount layout shown and protected, renames kept
// inside one storage, features and usage over the whole tree, each root a jail of its own.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalStorage } from './local.js';
import { MemoryStorage } from './memory.js';
import { MountedStorage, withFolders } from './mounts.js';
import { scanUsage } from './quota.js';
import { LONG_TOP, ctx, deepTree, listed, names, put, readFile, rejectsKind, v } from './test-support.js';
import type { FileStat, StorageBackend, StorageContext } from './types.js';

function tree() {
  const home = new MemoryStorage({ files: { '/h.txt': 'home', '/shared': 'a home file the folder hides' } });
  const shared = new MemoryStorage({ files: { '/s.txt': 'shared!' } });
  const deep = new MemoryStorage({ files: { '/d.txt': 'deep' } });
  const nested = new MemoryStorage({ files: { '/n.txt': 'nested' } });
  const s = new MountedStorage(home, [
    { at: '/shared', storage: shared },
    { at: '/a/b', storage: deep },
    { at: '/shared/inner', storage: nested },
  ]);
  return { s, home, shared, deep, nested };
}

async function entries(s: StorageBackend, dir: string): Promise<FileStat[]> {
  const out = await listed(s, dir);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

describe('MountedStorage', () => {
  it('is the home itself when there are no folders', () => {
    const home = new MemoryStorage();
    assert.equal(withFolders(home, []), home);
  });

  it('routes each path to the longest mount covering it, with paths as the user sees them', async () => {
    const { s, shared, nested } = tree();
    assert.equal(await readFile(s, '/shared/s.txt'), 'shared!');
    assert.equal(await readFile(s, '/a/b/d.txt'), 'deep');
    assert.equal(await readFile(s, '/shared/inner/n.txt'), 'nested');
    await put(s, '/shared/new.txt', 'written');
    assert.equal(await readFile(shared, '/new.txt'), 'written');
    await put(s, '/shared/inner/x', 'in nested');
    assert.equal(await readFile(nested, '/x'), 'in nested');
    const st = await s.stat(v('/shared/inner/x'), ctx());
    assert.deepEqual([st.name, st.path, st.type], ['x', '/shared/inner/x', 'file']);
    await s.mkdir(v('/a/b/sub'), ctx());
    assert.deepEqual(
      (await entries(s, '/a/b')).map((e) => [e.name, e.path, e.type]),
      [
        ['d.txt', '/a/b/d.txt', 'file'],
        ['sub', '/a/b/sub', 'dir'],
      ],
    );
  });

  it('lists mount points as directories, even where the storage below has no such directory', async () => {
    const { s } = tree();
    const root = await entries(s, '/');
    assert.deepEqual(
      root.map((e) => [e.name, e.path, e.type, e.mount ?? false]),
      [
        ['a', '/a', 'dir', true],
        ['h.txt', '/h.txt', 'file', false],
        ['shared', '/shared', 'dir', true],
      ],
    );
    assert.deepEqual(await names(s, '/a'), ['b']);
    assert.deepEqual(await names(s, '/shared'), ['inner', 's.txt']);
    for (const p of ['/a', '/a/b', '/shared', '/shared/inner']) {
      const st = await s.stat(v(p), ctx());
      assert.equal(st.type, 'dir', p);
      assert.equal(st.mount, true, p);
      assert.equal(st.path, p);
    }
    await rejectsKind(s.stat(v('/a/nothing'), ctx()), 'not-found');
    await rejectsKind(s.openRead(v('/shared'), { offset: 0 }, ctx()), 'is-directory');
  });

  it('refuses to remove, rename, replace or create over the mount layout', async () => {
    const { s } = tree();
    for (const p of ['/shared', '/a', '/a/b', '/shared/inner']) {
      await rejectsKind(s.removeDir(v(p), ctx()), 'mount-point');
      await rejectsKind(s.remove(v(p), ctx()), 'mount-point');
      await rejectsKind(s.mkdir(v(p), ctx()), 'mount-point');
      await rejectsKind(s.rename(v(p), v('/elsewhere'), ctx()), 'mount-point');
      await rejectsKind(s.rename(v('/h.txt'), v(p), ctx()), 'mount-point');
      await rejectsKind(put(s, p, 'x'), 'mount-point');
      await rejectsKind(s.chmod?.(v(p), 0o700, ctx()) ?? Promise.resolve(), 'mount-point');
    }
    assert.equal(await readFile(s, '/h.txt'), 'home');
  });

  it('refuses a rename across a folder boundary (553) and renames inside one', async () => {
    const { s, shared } = tree();
    await rejectsKind(s.rename(v('/h.txt'), v('/shared/h.txt'), ctx()), 'cross-folder');
    await rejectsKind(s.rename(v('/shared/s.txt'), v('/s.txt'), ctx()), 'cross-folder');
    await rejectsKind(s.rename(v('/shared/s.txt'), v('/shared/inner/s.txt'), ctx()), 'cross-folder');
    await s.rename(v('/shared/s.txt'), v('/shared/t.txt'), ctx());
    assert.equal(await readFile(shared, '/t.txt'), 'shared!');
    assert.equal(await readFile(s, '/h.txt'), 'home');
  });

  it('offers only the features every storage of the tree has, and maps STOU names', async () => {
    const home = new MemoryStorage();
    const plain = new MemoryStorage({ features: ['restart-read'] });
    const s = new MountedStorage(home, [{ at: '/p', storage: plain }]);
    assert.deepEqual([...s.features], ['restart-read']);
    const unique = await s.uniqueName?.(v('/p'), ctx());
    assert.match(String(unique), /^\/p\/[^/]+$/);
  });

  it('reports a batch of the home with only entries its folders hide as a step (the command time limit)', async () => {
    const home = new MemoryStorage({ files: { '/shared/old.txt': 'hidden' } });
    const s = new MountedStorage(home, [{ at: '/shared', storage: new MemoryStorage() }]);
    let steps = 0;
    const c: StorageContext = { ...ctx(), progress: () => void steps++ };
    assert.deepEqual(
      (await listed(s, '/', c)).map((e) => e.name),
      ['shared'],
    );
    assert.equal(steps, 1);
  });

  it('counts usage over the home and every folder', async () => {
    const { s } = tree();
    // h.txt 4, s.txt 7, d.txt 4, n.txt 6: the home file hidden by /shared is not reachable.
    assert.deepEqual(await scanUsage(s, ctx()), { bytes: 21, files: 4 });
  });

  it('leaves out an entry of a folder whose path is too long only as the user sees it', async () => {
    const folder = new MemoryStorage();
    const { dir, tooLong } = await deepTree(folder, '');
    const s = new MountedStorage(new MemoryStorage({ files: { '/h.txt': 'home' } }), [
      { at: LONG_TOP, storage: folder },
    ]);
    const told: string[] = [];
    const c: StorageContext = { ...ctx(), tooLong: (d, name) => void told.push(`${d}/${name}`) };
    assert.deepEqual(
      (await listed(s, LONG_TOP + dir, c)).map((e) => [e.name, e.path]),
      [['a.txt', `${LONG_TOP}${dir}/a.txt`]],
    );
    assert.deepEqual(told, [`${LONG_TOP}${dir}/${tooLong}`]);
    assert.deepEqual(await scanUsage(s, ctx()), { bytes: 5, files: 2 }, 'h.txt and a.txt');
    assert.deepEqual(await names(folder, dir), [tooLong, 'a.txt'], 'the folder itself lists it');
  });

  it('refuses a folder at / or two at one path', () => {
    const m = new MemoryStorage();
    assert.throws(() => new MountedStorage(m, [{ at: '/', storage: m }]), /home/);
    assert.throws(
      () =>
        new MountedStorage(m, [
          { at: '/x', storage: m },
          { at: '/x', storage: m },
        ]),
      /Two folders/,
    );
  });

  it('keeps each folder jailed at its own root: a link out of it is refused', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-mounts-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'home'));
    await mkdir(join(dir, 'folder'));
    await writeFile(join(dir, 'home', 'secret'), 'home only');
    await symlink(join(dir, 'home', 'secret'), join(dir, 'folder', 'out'));
    await writeFile(join(dir, 'folder', 'f.txt'), 'folder only');
    await symlink(join(dir, 'folder', 'f.txt'), join(dir, 'home', 'to-folder'));
    const s = withFolders(new LocalStorage({ root: join(dir, 'home') }), [
      { at: '/f', storage: new LocalStorage({ root: join(dir, 'folder') }) },
    ]);
    await rejectsKind(readFile(s, '/f/out'), 'permission-denied');
    await rejectsKind(readFile(s, '/to-folder'), 'permission-denied');
    assert.equal(await readFile(s, '/f/f.txt'), 'folder only');
    await rejectsKind(put(s, '/f/out', 'x'), 'permission-denied');
    assert.equal(await readFile(s, '/secret'), 'home only');
  });
});
