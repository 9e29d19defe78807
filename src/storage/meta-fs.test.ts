// MetaFs gives the same answers on its synchronous (fast) and asynchronous (after a slow call) paths.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, open, openSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MetaFs } from './meta-fs.js';

describe('MetaFs', () => {
  for (const [name, synchronous, slowMs] of [
    ['fast (synchronous)', true, Infinity],
    ['after a slow call (asynchronous)', true, -1],
    ['not on local filesystems (asynchronous always)', false, Infinity],
  ] as const) {
    it(`${name}: realpath, open, fstat, readlink, readSmall and errors`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'ferry-meta-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      await writeFile(join(dir, 'f.bin'), Buffer.from('0123456789'));
      await symlink('f.bin', join(dir, 'link'));
      const meta = new MetaFs(synchronous, slowMs);
      // Four first calls: slow four times in a row switches the path for the next ones.
      for (let i = 0; i < 4; i++) await meta.realpath(dir);
      assert.equal(await meta.realpath(join(dir, 'link')), join(await meta.realpath(dir), 'f.bin'));
      assert.equal(await meta.readlink(join(dir, 'link')), 'f.bin');
      const fd = await meta.open(join(dir, 'f.bin'), constants.O_RDONLY);
      assert.equal((await meta.fstat(fd)).size, 10);
      await meta.close(fd);
      const path = join(dir, 'f.bin');
      assert.equal((await meta.readSmall(path, constants.O_RDONLY, 3, 4)).toString(), '3456');
      assert.equal(
        (await meta.readSmall(path, constants.O_RDONLY, 8, 100)).toString(),
        '89',
        'short at the end',
      );
      assert.equal((await meta.readSmall(path, constants.O_RDONLY, 0, 0)).length, 0);
      await assert.rejects(meta.open(join(dir, 'missing'), constants.O_RDONLY), { code: 'ENOENT' });
      await assert.rejects(meta.realpath(join(dir, 'missing')), { code: 'ENOENT' });
    });
  }

  it('up to three slow calls in a row (preemptions on a busy machine) keep the synchronous path; four leave it', async () => {
    const meta = new MetaFs(true, -1); // every call counts as slow
    for (let i = 0; i < 3; i++) {
      await meta.realpath(tmpdir());
      assert.equal(meta.asynchronous, false);
    }
    await meta.realpath(tmpdir());
    assert.equal(meta.asynchronous, true);
  });

  it('not on local filesystems: the first call goes through the thread pool (a hung one would freeze the process)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-meta-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const meta = new MetaFs(false, Infinity); // no call could ever count as slow
    assert.equal(meta.asynchronous, true);
    // Every thread of the pool waits in open(2) on a FIFO: a call through it cannot finish meanwhile.
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const readers = blockPool(fifo);
    let settled = false;
    const resolved = meta.realpath(dir).finally(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve)); // a synchronous call has settled by now
    const settledWhilePoolBusy = settled;
    const writer = openWriter(fifo); // lets the pool go on
    for (const r of await Promise.all(readers)) closeSync(r);
    closeSync(writer);
    assert.equal(await resolved, await meta.realpath(dir));
    assert.equal(settledWhilePoolBusy, false, 'waited for the thread pool');
  });

  it('closeFreeing leaves close(2) to the thread pool: the event loop goes on while a replaced file is freed', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-meta-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'f.bin'), 'x');
    const meta = new MetaFs(true, Infinity); // the fast path for everything else
    const fd = await meta.open(join(dir, 'f.bin'), constants.O_RDONLY);
    // Every thread of the pool waits in open(2) on a FIFO: nothing queued runs until a writer comes.
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const readers = blockPool(fifo);
    const closed = meta.closeFreeing(fd);
    let stillOpen = true;
    try {
      fstatSync(fd);
    } catch {
      stillOpen = false; // EBADF: closed on the event loop
    }
    const writer = openWriter(fifo); // lets the pool go on
    for (const r of await Promise.all(readers)) closeSync(r);
    closeSync(writer);
    await closed;
    assert.equal(stillOpen, true, 'not closed on the event loop');
    assert.throws(() => fstatSync(fd), { code: 'EBADF' });
  });
});

/** Opens the FIFO for writing as soon as a reader waits in open(2) (ENXIO until then). */
function openWriter(fifo: string): number {
  for (;;) {
    try {
      return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
  }
}

/** A reader of the FIFO waiting in open(2) on every thread of the pool, until a writer comes. */
function blockPool(fifo: string): Promise<number>[] {
  const size = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  return Array.from(
    { length: size },
    () => new Promise<number>((res, rej) => open(fifo, 'r', (err, r) => (err ? rej(err) : res(r)))),
  );
}
