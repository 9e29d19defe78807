// FileChunks: the bytes of a range, in buffers that are read into again once handed back.
import assert from 'node:assert/strict';
import { fstatSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileChunks } from './file-chunks.js';

async function file(t: { after(fn: () => Promise<void>): void }, bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-chunks-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'f.bin'), bytes);
  return join(dir, 'f.bin');
}

const closed = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return false;
  } catch {
    return true;
  }
};

describe('FileChunks', () => {
  const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));

  it('reads [start, end) in chunks; a chunk handed back is read into again; the fd closes at the end', async (t) => {
    const fd = openSync(await file(t, bytes), 'r');
    const src = new FileChunks(fd, 100, 9_000, 1_000);
    const got: Buffer[] = [];
    const seen = new Set<ArrayBufferLike>();
    for await (const chunk of src as AsyncIterable<Buffer>) {
      got.push(Buffer.from(chunk));
      seen.add(chunk.buffer);
      src.recycle(chunk);
    }
    assert.deepEqual(Buffer.concat(got), bytes.subarray(100, 9_000));
    assert.ok(seen.size < got.length, `${seen.size} buffers for ${got.length} chunks: they were reused`);
    await new Promise(setImmediate);
    assert.ok(closed(fd));
  });

  it('without recycling, every chunk is its own buffer', async (t) => {
    const fd = openSync(await file(t, bytes), 'r');
    const chunks: Buffer[] = [];
    for await (const chunk of new FileChunks(fd, 0, bytes.length, 4_096) as AsyncIterable<Buffer>)
      chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), bytes, 'chunks kept by the consumer are never overwritten');
  });

  it('ends early when the file is shorter than announced; destroyed midway, closes the fd', async (t) => {
    const path = await file(t, bytes);
    const short = new FileChunks(openSync(path, 'r'), 0, 20_000, 4_096);
    let n = 0;
    for await (const chunk of short as AsyncIterable<Buffer>) n += chunk.length;
    assert.equal(n, bytes.length);
    const fd = openSync(path, 'r');
    const src = new FileChunks(fd, 0, bytes.length, 1_000);
    src.once('data', () => src.destroy());
    await new Promise((resolve) => src.once('close', resolve));
    assert.ok(closed(fd));
  });
});
