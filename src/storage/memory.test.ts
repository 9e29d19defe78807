// MemoryStorage specifics; the shared behaviour is in contract.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { MemoryStorage } from './memory.js';
import { ctx, put, readFile, rejectsKind, source, v } from './test-support.js';

describe('MemoryStorage', () => {
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
