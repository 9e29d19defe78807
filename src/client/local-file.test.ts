import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { DOWNLOAD_BUFFER, FileSink, POOL_WRITE } from './local-file.js';

/** Chunks of mixed sizes (1 byte to more than one buffer) that add up to `data`. */
function chunksOf(data: Buffer): Buffer[] {
  const sizes = [1, 16 * 1024, 7, DOWNLOAD_BUFFER + 3, 16 * 1024 - 1, DOWNLOAD_BUFFER - 10];
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length] as number, data.length - off);
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('download files written from a reused buffer', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-local-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Each download test runs with synchronous writes (the default) and through the thread pool (what
  // a sink switches to once the disk is slow).
  for (const [how, o] of [
    ['synchronous writes', {}],
    ['thread-pool writes', { threaded: true }],
  ] as const) {
    it(`a download file holds every chunk in order, whatever their sizes (${how})`, async () => {
      const data = randomBytes(3 * DOWNLOAD_BUFFER + 12345);
      const file = path.join(dir, `whole-${o.threaded ? 't' : 's'}.bin`);
      await pipeline(Readable.from(chunksOf(data)), new FileSink(file, o));
      assert.ok((await readFile(file)).equals(data));
    });

    it(`a resumed download writes from its start offset and keeps the bytes before it (${how})`, async () => {
      const head = randomBytes(1000);
      const rest = randomBytes(DOWNLOAD_BUFFER + 5);
      const file = path.join(dir, `resume-${o.threaded ? 't' : 's'}.bin`);
      await writeFile(file, Buffer.concat([head, Buffer.alloc(10, 0x78)]));
      await pipeline(Readable.from(chunksOf(rest)), new FileSink(file, { ...o, start: head.length }));
      assert.ok((await readFile(file)).equals(Buffer.concat([head, rest])));
    });

    it(`a destroyed download (abort, failed transfer) has written all it received before it closes (${how})`, async () => {
      const file = path.join(dir, `cut-${o.threaded ? 't' : 's'}.bin`);
      const sink = new FileSink(file, o);
      const received = randomBytes(DOWNLOAD_BUFFER + 777); // one buffer written out, a part held
      for (const c of chunksOf(received)) sink.write(c);
      await new Promise<void>((resolve) => sink.write(Buffer.alloc(0), () => resolve()));
      sink.destroy(); // as download() does when the transfer fails
      await once(sink, 'close');
      assert.ok((await readFile(file)).equals(received));
    });

    it(`a download onto a full disk fails the stream with ENOSPC, at a full buffer and at the end (${how})`, async () => {
      // /dev/full takes the open and refuses every write, as a full filesystem does.
      for (const size of [2 * DOWNLOAD_BUFFER, DOWNLOAD_BUFFER / 2]) {
        const sink = new FileSink('/dev/full', o);
        await assert.rejects(pipeline(Readable.from(chunksOf(randomBytes(size))), sink), { code: 'ENOSPC' });
      }
    });
  }

  it('a download whose writes turn slow goes on through the thread pool, every byte in order', async () => {
    const data = randomBytes(5 * DOWNLOAD_BUFFER + 99);
    const file = path.join(dir, 'slow.bin');
    const sink = new FileSink(file, { slowWriteMs: -1 }); // every write counts as slow
    assert.equal(sink.threaded, false);
    await pipeline(Readable.from(chunksOf(data)), sink);
    assert.equal(sink.threaded, true);
    assert.ok((await readFile(file)).equals(data));
  });

  it('a download destroyed while a thread-pool write is in flight keeps a prefix of what it received', async () => {
    const file = path.join(dir, 'cut-inflight.bin');
    const sink = new FileSink(file, { threaded: true });
    const received = randomBytes(3 * DOWNLOAD_BUFFER);
    // A first byte, once written into the buffer, says the file is open and the sink idle; the rest
    // is then taken at once, and the buffer it fills goes to the thread pool before destroy().
    await new Promise<void>((resolve) => sink.write(received.subarray(0, 1), () => resolve()));
    sink.write(received.subarray(1));
    sink.destroy();
    await once(sink, 'close');
    const onDisk = await readFile(file);
    assert.ok(onDisk.length >= DOWNLOAD_BUFFER, `the write in flight completed (${onDisk.length})`);
    assert.ok(onDisk.equals(received.subarray(0, onDisk.length)), 'a prefix, never a gap');
  });

  it('through the thread pool, a buffer fills while the other is written: the connection is not held up by each write', async () => {
    const file = path.join(dir, 'two-buffers.bin');
    const sink = new FileSink(file, { threaded: true });
    const data = randomBytes(POOL_WRITE + DOWNLOAD_BUFFER);
    await new Promise<void>((resolve) => sink.write(data.subarray(0, 1), () => resolve())); // open
    const rest = data.subarray(1);
    assert.equal(sink.takeNow(rest, rest.length), rest.length, 'taken at once, a write in flight');
    sink.end();
    await finished(sink);
    assert.ok((await readFile(file)).equals(data));
  });

  it('a pipe whose reader waits holds the download back: the sink takes a bounded amount, then every byte in order', async () => {
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = createReadStream(fifo); // paused: reads only as far as its buffer
    const sink = await FileSink.open(fifo);
    assert.equal(sink.threaded, true);
    const chunk = randomBytes(16 * 1024);
    let taken = 0;
    while (sink.write(chunk)) taken += chunk.length;
    taken += chunk.length;
    assert.ok(taken <= 2 * POOL_WRITE + 2 * DOWNLOAD_BUFFER, `${taken} bytes held before write() said wait`);
    sink.end();
    const got: Buffer[] = [];
    for await (const c of reader) got.push(c as Buffer);
    await finished(sink);
    const all = Buffer.concat(got);
    assert.equal(all.length, taken);
    for (let off = 0; off < taken; off += chunk.length)
      assert.ok(all.subarray(off, off + chunk.length).equals(chunk));
  });

  it('an existing file is emptied only when the first byte arrives: a download refused or cut before it leaves the file as it was', async () => {
    const file = path.join(dir, 'existing.txt');
    await writeFile(file, 'precious');
    const refused = await FileSink.open(file);
    assert.equal(refused.created, false);
    refused.destroy(); // as download() does on a 550
    await once(refused, 'close');
    assert.equal(await readFile(file, 'utf8'), 'precious');
    await pipeline(Readable.from([Buffer.from('new')]), await FileSink.open(file));
    assert.equal(await readFile(file, 'utf8'), 'new', 'replaced, nothing of the old left');
    const empty = await FileSink.open(file);
    await pipeline(Readable.from([]), empty);
    // The end of the data is not yet a success (a 426 may follow): download() empties it after.
    assert.equal(empty.unwritten, true);
    assert.equal(await readFile(file, 'utf8'), 'new', 'an empty download leaves the file to its caller');
  });

  it('FileSink.open rejects a file that cannot be opened, before any byte (nothing to handle later)', async () => {
    await assert.rejects(FileSink.open(dir), { code: 'EISDIR' });
    await assert.rejects(FileSink.open(path.join(dir, 'missing', 'x.bin')), { code: 'ENOENT' });
  });

  it('a download file that cannot be created fails the stream with the reason', async () => {
    const sink = new FileSink(path.join(dir, 'missing', 'x.bin'));
    await assert.rejects(pipeline(Readable.from([Buffer.from('x')]), sink), { code: 'ENOENT' });
  });
});
