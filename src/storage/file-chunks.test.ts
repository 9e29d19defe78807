// FileChunks: the bytes of a range, in buffers that are read into again once handed back.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fstatSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as settled } from 'node:timers/promises';
import { FileChunks } from './file-chunks.js';
import { PoolBudget } from './pool-budget.js';

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

  it('with a gate (a filesystem that is not local), each read takes a slot, held only while it reads', async (t) => {
    const fd = openSync(await file(t, bytes), 'r');
    const budget = new PoolBudget(4);
    let gated = 0;
    const gate = <T>(call: () => Promise<T>): Promise<T> => {
      gated++;
      return budget.run('/mnt/nfs', new AbortController().signal, call);
    };
    const chunks: Buffer[] = [];
    for await (const chunk of new FileChunks(fd, 0, bytes.length, 4_096, gate) as AsyncIterable<Buffer>)
      chunks.push(chunk);
    assert.deepEqual(Buffer.concat(chunks), bytes);
    assert.equal(gated, 3, 'one slot per read');
    assert.equal(budget.inUse, 0);
  });

  it('a read waiting for a slot holds no thread; destroyed and its transfer aborted, the fd closes', async (t) => {
    const fd = openSync(await file(t, bytes), 'r');
    const budget = new PoolBudget(2); // one slot
    let end = (): void => {};
    const hung = budget.run(
      '/mnt/nfs',
      new AbortController().signal,
      () => new Promise<void>((r) => (end = r)),
    );
    const transfer = new AbortController();
    const src = new FileChunks(fd, 0, bytes.length, 1_000, (call) =>
      budget.run('/mnt/nfs', transfer.signal, call),
    );
    src.on('error', () => {});
    src.resume();
    await settled();
    assert.equal(src.readableLength, 0, 'nothing read: the read waits for the slot');
    // 'close' follows the fd's close (deferred until the waiting read gave up): no turns counted.
    const gone = once(src, 'close');
    src.destroy();
    transfer.abort();
    await gone;
    assert.ok(closed(fd));
    end();
    await hung;
    assert.equal(budget.inUse, 0);
  });
});
