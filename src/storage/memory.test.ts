// MemoryStorage specifics; the shared behaviour is in contract.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { MemoryStorage } from './memory.js';
import { scanUsage } from './quota.js';
import { LONG_TOP, ctx, deepTree, listed, put, readFile, rejectsKind, source, v } from './test-support.js';
import type { StorageContext } from './types.js';

describe('MemoryStorage', () => {
  it('leaves an entry whose path a rename made too long out of listings and the quota scan', async () => {
    const s = new MemoryStorage({ files: { '/top.txt': 'top' } });
    const { dir, tooLong } = await deepTree(s, '/r');
    await s.rename(v('/r'), v(LONG_TOP), ctx());
    const moved = LONG_TOP + dir.slice('/r'.length);
    const told: string[] = [];
    const c: StorageContext = { ...ctx(), tooLong: (d, name) => void told.push(`${d}/${name}`) };
    assert.deepEqual(
      (await listed(s, moved, c)).map((e) => [e.name, e.path]),
      [['a.txt', `${moved}/a.txt`]],
    );
    assert.deepEqual(told, [`${moved}/${tooLong}`]);
    assert.deepEqual(await scanUsage(s, ctx()), { bytes: 4, files: 2 });
  });

  it('seeds files and creates their parents', async () => {
    const s = new MemoryStorage({ files: { '/a/b/c.txt': 'hi', 'top.bin': new Uint8Array([1, 2]) } });
    assert.equal(await readFile(s, '/a/b/c.txt'), 'hi');
    assert.equal((await s.stat(v('/a/b'), ctx())).type, 'dir');
    assert.equal((await s.stat(v('/top.bin'), ctx())).size, 2);
    assert.equal(s.usedBytes, 4);
    assert.throws(() => new MemoryStorage({ files: { '/f': 'x', '/f/g': 'y' } }), FerryError);
  });

  it('enforces maxBytes as quota-exceeded and keeps the old content', async () => {
    const s = new MemoryStorage({ maxBytes: 10, files: { '/f': '12345' } });
    await put(s, '/f', '1234567890'); // replacing frees the old bytes
    assert.equal(s.usedBytes, 10);
    await rejectsKind(put(s, '/g', 'x'), 'quota-exceeded');
    await rejectsKind(s.write(v('/f'), source('+'), { offset: 0, append: true }, ctx()), 'quota-exceeded');
    assert.equal(await readFile(s, '/f'), '1234567890');
    await s.remove(v('/f'), ctx());
    assert.equal(s.usedBytes, 0);
  });

  it('gives open readers a snapshot while a write replaces the file', async () => {
    const s = new MemoryStorage({ files: { '/f': 'before' } });
    const reader = await s.openRead(v('/f'), { offset: 0 }, ctx());
    await put(s, '/f', 'after');
    const parts: Buffer[] = [];
    for await (const chunk of reader) parts.push(chunk as Buffer);
    assert.equal(Buffer.concat(parts).toString(), 'before');
    assert.equal(await readFile(s, '/f'), 'after');
  });

  it('reads large files in chunks from an offset', async () => {
    const big = Buffer.alloc(1024 * 1024 + 5, 7);
    const s = new MemoryStorage({ files: { '/big': big } });
    const r = await s.openRead(v('/big'), { offset: 5 }, ctx());
    let total = 0;
    for await (const chunk of r) total += (chunk as Buffer).length;
    assert.equal(total, 1024 * 1024);
  });
});
