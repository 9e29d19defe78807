// FileWriter: gathered writes at the right offsets, writeback started during the upload, and a
// failed background fdatasync failing the upload instead of being lost.
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { FileWriter, type WriteHandle } from './file-writer.js';

async function tempFile(t: { after(fn: () => Promise<void>): void }): Promise<FileHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-writer-'));
  const fh = await open(join(dir, 'f.bin'), 'w+');
  t.after(async () => {
    await fh.close();
    await rm(dir, { recursive: true, force: true });
  });
  return fh;
}

/**
 * A real file handle whose datasync calls are recorded (and can be made to fail). `instant`: a sync
 * that is done at once, so how many start does not depend on how fast this machine's disk is.
 */
function watched(
  fh: FileHandle,
  fail?: Error,
  instant = false,
): WriteHandle & { syncsAt: number[]; written: () => number } {
  let written = 0;
  const syncsAt: number[] = [];
  return {
    syncsAt,
    written: () => written,
    writev: async (buffers, position) => {
      const r = await fh.writev(buffers, position);
      written += r.bytesWritten;
      return r;
    },
    datasync: async () => {
      syncsAt.push(written);
      if (fail) throw fail;
      return instant ? undefined : fh.datasync();
    },
  };
}

const chunks = (count: number, size: number): Buffer[] =>
  Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));

describe('FileWriter', () => {
  it('writes every chunk in order from its start offset', async (t) => {
    const fh = await tempFile(t);
    const data = chunks(100, 16 * 1024 + 7);
    const w = new FileWriter(fh, 10);
    await pipeline(Readable.from(data), w);
    const got = await readFile(`/proc/self/fd/${fh.fd}`);
    assert.equal(w.bytesWritten, Buffer.concat(data).length);
    assert.deepEqual(got.subarray(10), Buffer.concat(data));
    assert.deepEqual(got.subarray(0, 10), Buffer.alloc(10));
  });

  it('starts fdatasync in the background as the bytes arrive, not only at the end', async (t) => {
    const fh = watched(await tempFile(t), undefined, true);
    const every = 1024 * 1024;
    const w = new FileWriter(fh, 0, { syncEvery: every });
    await pipeline(Readable.from(chunks(8 * 64, 16 * 1024)), w); // 8 MiB
    assert.ok(fh.syncsAt.length >= 2, `${fh.syncsAt.length} background syncs`);
    assert.ok(
      fh.syncsAt.every((at) => at < 8 * every),
      `syncs started while writing: ${fh.syncsAt.join(', ')}`,
    );
    assert.equal(fh.written(), 8 * every);
  });

  it('fails the stream when a background fdatasync fails (the final fsync might not see it)', async (t) => {
    const fh = watched(await tempFile(t), Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    const w = new FileWriter(fh, 0, { syncEvery: 1024 * 1024 });
    await assert.rejects(pipeline(Readable.from(chunks(4 * 64, 16 * 1024)), w), /EIO/);
    assert.ok(fh.syncsAt.length >= 1);
  });

  it('hands each chunk back once it is on its way to disk, and only then', async (t) => {
    const file = await tempFile(t);
    const fh = watched(file, undefined, true);
    const data = chunks(12, 256 * 1024);
    const handedBack: Buffer[] = [];
    const recycle = (chunk: Buffer): void => {
      assert.ok(
        fh.written() >= handedBack.length * chunk.length + chunk.length,
        'handed back before written',
      );
      handedBack.push(chunk);
    };
    const w = new FileWriter(fh, 0, { recycle });
    await pipeline(Readable.from(data), w);
    assert.equal(handedBack.length, data.length);
    assert.ok(
      handedBack.every((b, i) => b === data[i]),
      'the same Buffers, each once, in order',
    );
    assert.deepEqual(await readFile(`/proc/self/fd/${file.fd}`), Buffer.concat(data));
  });

  it('does not sync a small file in the background (the caller fsyncs it once)', async (t) => {
    const fh = watched(await tempFile(t));
    await pipeline(Readable.from(chunks(10, 16 * 1024)), new FileWriter(fh, 0));
    assert.deepEqual(fh.syncsAt, []);
  });
});
