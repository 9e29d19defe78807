import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BIG_CHUNK, sendFile, SMALL_CHUNK } from './upload-file.js';

/** A consumer that takes a chunk only when it completes the write, a turn later, as a socket would. */
function slowConsumer(got: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      setImmediate(() => {
        got.push(Buffer.from(chunk));
        cb();
      });
    },
  });
}

/**
 * Every thread of libuv's pool held by an open() of a FIFO that no writer has opened yet (as DNS
 * lookups, hashing or a hung network filesystem can hold it); `release` opens the FIFO for writing,
 * which lets them all through.
 */
async function holdThreadPool(dir: string): Promise<{ release: () => Promise<void> }> {
  const fifo = path.join(dir, 'pool.fifo');
  execFileSync('mkfifo', [fifo]);
  const size = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  const opens: Promise<FileHandle>[] = [];
  for (let i = 0; i < size; i++) opens.push(open(fifo, 'r'));
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      const w = openSync(fifo, 'w');
      for (const fh of await Promise.all(opens)) await fh.close();
      closeSync(w);
      await rm(fifo);
    },
  };
}

describe('upload files read into reused buffers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-upload-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [how, o] of [
    ['synchronous reads', {}],
    ['reads that turn slow and go to the thread pool', { slowMs: -1 }],
    ['thread-pool reads', { threaded: true }],
  ] as const) {
    it(`an upload sends the file from its offset, never reusing a buffer before its write is done (${how})`, async () => {
      const data = randomBytes(5 * SMALL_CHUNK + 4321);
      const file = path.join(dir, 'up.bin');
      await writeFile(file, data);
      const got: Buffer[] = [];
      const fh = await open(file, 'r');
      let counted = 0;
      try {
        await sendFile(fh, 100, slowConsumer(got), (n) => (counted += n), o);
      } finally {
        await fh.close();
      }
      assert.ok(Buffer.concat(got).equals(data.subarray(100)));
      assert.equal(counted, data.length - 100);
    });
  }

  it('an upload from the page cache is not held up by a busy thread pool; after slow reads it waits for it', async () => {
    const data = randomBytes(3 * SMALL_CHUNK + 7);
    const file = path.join(dir, 'up-pool.bin');
    await writeFile(file, data);
    const fast = await open(file, 'r');
    const slow = await open(file, 'r');
    const pool = await holdThreadPool(dir);
    try {
      const slowGot: Buffer[] = [];
      let slowDone = false;
      const slowUpload = sendFile(slow, 0, slowConsumer(slowGot), () => {}, { threaded: true }).then(() => {
        slowDone = true;
      });
      const got: Buffer[] = [];
      // Without synchronous reads this upload would wait for the pool for ever: a guard fails it
      // (and the pool is then released, so that the test ends).
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([
        sendFile(fast, 0, slowConsumer(got), () => {}),
        new Promise((_, reject) => {
          guard = setTimeout(() => reject(new Error('the upload waited for the thread pool')), 10_000);
        }),
      ]).finally(() => clearTimeout(guard));
      assert.ok(Buffer.concat(got).equals(data), 'sent in full while every pool thread was busy');
      assert.equal(slowDone, false, 'a thread-pool read waits for a free thread');
      await pool.release();
      await slowUpload;
      assert.ok(Buffer.concat(slowGot).equals(data));
    } finally {
      await pool.release();
      await fast.close();
      await slow.close();
    }
  });

  /**
   * A data connection on a clock of its own: the kernel takes the first `kernelBytes` at once, then
   * each write takes its bytes at `rate(sentSoFar)` bytes per ms. Records each write's size.
   */
  function simulatedLink(kernelBytes: number, rate: (sent: number) => number) {
    let clock = 0;
    let sent = 0;
    const sizes: number[] = [];
    const buffers = new Set<number>(); // the sizes of the buffers the chunks were read into
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        sizes.push(chunk.length);
        buffers.add(chunk.buffer.byteLength);
        const instant = Math.min(chunk.length, Math.max(kernelBytes - sent, 0));
        clock += (chunk.length - instant) / rate(sent);
        sent += chunk.length;
        setImmediate(cb);
      },
    });
    return { out, sizes, buffers, now: () => clock };
  }

  async function upload(size: number, link: ReturnType<typeof simulatedLink>): Promise<void> {
    const file = path.join(dir, 'up-link.bin');
    await writeFile(file, randomBytes(size));
    const fh = await open(file, 'r');
    try {
      await sendFile(fh, 0, link.out, () => {}, { now: link.now });
    } finally {
      await fh.close();
    }
    assert.equal(
      link.sizes.reduce((a, b) => a + b, 0),
      size,
    );
  }

  it('a fast connection gets big chunks once it has sent more than kernels buffer', async () => {
    const link = simulatedLink(4 * 1024 * 1024, () => 1e6); // 1 GB/s
    await upload(24 * 1024 * 1024, link);
    const firstBig = link.sizes.indexOf(BIG_CHUNK);
    assert.ok(firstBig > 0, 'starts with small chunks');
    assert.ok(link.sizes.slice(0, firstBig).every((n) => n === SMALL_CHUNK));
    assert.ok(firstBig * SMALL_CHUNK > 8 * 1024 * 1024, 'not before 8 MiB are through');
    const big = link.sizes.slice(firstBig, -1); // the last read takes what is left
    assert.ok(big.length >= 14 && big.every((n) => n === BIG_CHUNK), 'then big ones');
  });

  it('a slow connection keeps small chunks, each written within seconds, even after a big kernel buffer', async () => {
    const link = simulatedLink(8 * 1024 * 1024, () => 40); // 40 KB/s once 8 MiB sit in buffers
    await upload(12 * 1024 * 1024, link);
    assert.ok(link.sizes.every((n) => n === SMALL_CHUNK));
    assert.deepEqual([...link.buffers], [SMALL_CHUNK], 'no 1 MiB buffer taken');
  });

  it('a connection that slows down goes back to small chunks after the first slow write', async () => {
    const fastFor = 16 * 1024 * 1024;
    const link = simulatedLink(4 * 1024 * 1024, (sent) => (sent < fastFor ? 1e6 : 40));
    await upload(24 * 1024 * 1024, link);
    let at = 0;
    const slowWrite = link.sizes.findIndex((n) => (at += n) > fastFor);
    assert.equal(link.sizes[slowWrite], BIG_CHUNK, 'big chunks while fast');
    // The write after the slow one was read before it ended; every later one is small.
    assert.ok(
      link.sizes.slice(slowWrite + 2).every((n) => n === SMALL_CHUNK),
      String(link.sizes),
    );
  });

  it('an upload fails when the data connection closes under it', async () => {
    const file = path.join(dir, 'up-cut.bin');
    await writeFile(file, randomBytes(3 * SMALL_CHUNK));
    // Takes the first write and never completes it, then closes.
    const out = new Writable({
      write(_chunk, _enc, _cb) {
        setImmediate(() => out.destroy());
      },
    });
    const fh = await open(file, 'r');
    try {
      await assert.rejects(
        sendFile(fh, 0, out, () => {}),
        (err: unknown) => err instanceof Error && /closed during the upload/.test(err.message),
      );
    } finally {
      await fh.close();
    }
  });
});
