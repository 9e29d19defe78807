// Coalesced: a body re-cut into full chunks, in buffers used again, with backpressure and failures kept.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { Coalesced } from './coalesced.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Coalesced', () => {
  it('sends what is there in chunks of its size (the last shorter), in buffers handed back and reused', async () => {
    const bytes = Buffer.from(Array.from({ length: 100_005 }, (_, i) => i % 251));
    const pieces = Array.from({ length: Math.ceil(bytes.length / 7_000) }, (_, i) =>
      bytes.subarray(i * 7_000, (i + 1) * 7_000),
    );
    const source = new Readable({ read() {} });
    for (const piece of pieces) source.push(piece);
    source.push(null);
    const c = new Coalesced(source, 16_384);
    const got: Buffer[] = [];
    const seen = new Set<ArrayBufferLike>();
    // 'data' events, as pipe() sees them (an async iterator joins what is buffered).
    c.on('data', (chunk: Buffer) => {
      got.push(Buffer.from(chunk));
      seen.add(chunk.buffer);
      c.recycle(chunk);
    });
    await finished(c);
    assert.deepEqual(Buffer.concat(got), bytes);
    assert.deepEqual(
      got.map((g) => g.length),
      [...Array<number>(6).fill(16_384), 100_005 - 6 * 16_384],
    );
    assert.ok(seen.size < got.length, `${seen.size} buffers for ${got.length} chunks: they were reused`);
  });

  it('does not hold bytes back waiting for a chunk to fill: a trickle is passed on as it comes, in one buffer', async () => {
    const source = new Readable({ read() {} });
    const c = new Coalesced(source, 16_384);
    const got: Buffer[] = [];
    const next = (): Promise<Buffer> => new Promise((resolve) => c.once('data', resolve));
    for (const n of [100, 5_000, 1]) {
      const arrived = next();
      source.push(Buffer.alloc(n, n % 256));
      const chunk = await arrived;
      got.push(chunk);
      c.recycle(chunk); // a slice hands its whole buffer back
    }
    assert.deepEqual(
      got.map((g) => g.length),
      [100, 5_000, 1],
    );
    assert.equal(new Set(got.map((g) => g.buffer)).size, 1, 'one buffer, read into again each time');
    c.destroy();
  });

  it('takes from its source only while its reader wants more', async () => {
    const source = new Readable({ read() {} });
    for (let i = 0; i < 10; i++) source.push(Buffer.alloc(65_536, i));
    const c = new Coalesced(source, 65_536);
    await turn();
    assert.equal(source.readableLength, 10 * 65_536, 'nothing is taken before anyone reads');
    c.read(0);
    await turn();
    assert.ok(c.readableLength >= 65_536, 'a chunk is ready');
    assert.ok(
      source.readableLength >= 7 * 65_536,
      `the source holds ${source.readableLength} bytes: paused once a chunk was waiting`,
    );
    c.destroy();
    await turn();
    assert.ok(source.destroyed, 'destroying it destroys the source');
  });

  it('with a depth, holds that many chunks before pausing its source, and takes again when the reader wants more', async () => {
    const source = new Readable({ read() {} });
    for (let i = 0; i < 10; i++) source.push(Buffer.alloc(65_536, i));
    const c = new Coalesced(source, 65_536, 4);
    c.read(0);
    await turn();
    assert.equal(c.readableLength, 4 * 65_536, 'four chunks wait');
    assert.equal(source.readableLength, 6 * 65_536, 'the rest stays in the paused source');
    const take = async (): Promise<number> => {
      const chunk = c.read(65_536) as Buffer;
      const first = chunk[0] ?? -1;
      c.recycle(chunk); // its buffer is read into again
      await turn();
      return first;
    };
    assert.equal(await take(), 0);
    assert.equal(source.readableLength, 6 * 65_536, 'still paused: three chunks wait');
    assert.deepEqual([await take(), await take(), await take()], [1, 2, 3]);
    assert.equal(c.readableLength, 4 * 65_536, 'once the reader wanted more, four chunks wait again');
    assert.equal(source.readableLength, 2 * 65_536);
    assert.equal(await take(), 4, 'in order');
    c.destroy();
  });

  it('fails when its source fails, and when its source closes before its end', async () => {
    const failing = new Readable({ read() {} });
    const c1 = new Coalesced(failing, 1_024);
    c1.resume();
    failing.push(Buffer.alloc(100));
    failing.destroy(new Error('gateway went away'));
    await assert.rejects(() => new Promise((_, reject) => c1.once('error', reject)), /gateway went away/);

    const cut = new Readable({ read() {} });
    const c2 = new Coalesced(cut, 1_024);
    c2.resume();
    cut.push(Buffer.alloc(100));
    cut.destroy();
    await assert.rejects(
      () => new Promise((_, reject) => c2.once('error', reject)),
      (err: NodeJS.ErrnoException) => err.code === 'ERR_STREAM_PREMATURE_CLOSE',
    );
  });
});
