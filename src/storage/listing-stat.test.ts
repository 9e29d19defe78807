import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  opendirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  type Dir,
  type Dirent,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FdJail } from './fd-jail.js';
import { ListingReader, type ListingReaderOptions } from './listing-stat.js';
import { PoolBudget } from './pool-budget.js';
import type { FileStat } from './types.js';
import { newTempName } from './upload-temp.js';
import { v } from './test-support.js';

const FILES = 100;
const name = (i: number): string => `f${String(i).padStart(3, '0')}`;

/** A real directory of FILES files (file i holds i bytes) and a temp upload. */
function directory(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-listing-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, name(i)), 'x'.repeat(i));
  writeFileSync(join(dir, newTempName()), 'partial upload');
  return dir;
}

/**
 * The real Dir, deleting each odd-numbered file right after readdir returned its name: the race
 * of a file removed between readdir and lstat, on every batch.
 */
function vanishing(dir: string, handle: Dir): Dir {
  const gone = (e: Dirent | null): Dirent | null => {
    const i = e === null ? NaN : Number(e.name.slice(1));
    if (e !== null && i % 2 === 1) unlinkSync(join(dir, e.name));
    return e;
  };
  return Object.assign(Object.create(handle) as Dir, {
    readSync: () => gone(handle.readSync()),
    read: async () => gone(await handle.read()),
  });
}

async function readAll(
  t: TestContext,
  options: ListingReaderOptions,
  wrap = vanishing,
): Promise<FileStat[][]> {
  const dir = directory(t);
  const jail = new FdJail(dir);
  const pinned = await jail.pinDir(dir, 'list', '/');
  const handle = opendirSync(pinned.path, { bufferSize: 16 });
  t.after(async () => {
    handle.closeSync();
    await pinned.close();
  });
  const reader = new ListingReader(pinned, wrap(dir, handle), v('/d'), options);
  const batches: FileStat[][] = [];
  for (let b = await reader.next(); b !== undefined; b = await reader.next()) batches.push(b);
  return batches;
}

describe('ListingReader', () => {
  for (const [how, options] of [
    ['synchronously', { batchSize: 16, synchronous: true, slowMs: 1_000 }],
    [
      'synchronously from inside the directory',
      { batchSize: 16, synchronous: true, slowMs: 1_000, borrowWorkingDirectory: true },
    ],
    ['through the thread pool after a slow batch', { batchSize: 16, synchronous: true, slowMs: -1 }],
    [
      'from inside the directory, then through the thread pool after a slow batch',
      { batchSize: 16, synchronous: true, slowMs: -1, borrowWorkingDirectory: true },
    ],
  ] as const) {
    it(`reads a directory in batches ${how}, leaving out entries removed since readdir`, async (t) => {
      const batches = await readAll(t, options);
      assert.ok(batches.length >= FILES / 16, `${batches.length} batches`);
      for (const b of batches) assert.ok(b.length <= 16);
      const entries = batches.flat();
      const expected = Array.from({ length: FILES / 2 }, (_, k) => name(2 * k));
      assert.deepEqual(
        entries.map((e) => e.name).sort(),
        expected,
        'the even files, each once; no temp upload',
      );
      for (const e of entries) {
        assert.equal(e.size, Number(e.name.slice(1)), e.name);
        assert.equal(e.type, 'file');
        assert.equal(e.path, `/d/${e.name}`);
        assert.match(e.id ?? '', /^[0-9a-f]+g[0-9a-f]+$/);
      }
    });
  }

  it('reads through the thread pool from the first batch where the tree is not all on local filesystems', async (t) => {
    // A synchronous read (readSync of the Dir, then lstatSync) would throw here.
    const asyncOnly = (dir: string, handle: Dir): Dir =>
      Object.assign(Object.create(vanishing(dir, handle)) as Dir, {
        readSync: () => assert.fail('read synchronously'),
      });
    const options = { batchSize: 16, synchronous: false, slowMs: Infinity, borrowWorkingDirectory: true };
    const entries = (await readAll(t, options, asyncOnly)).flat();
    assert.equal(entries.length, FILES / 2);
  });

  it('takes a slot of the pool budget per call: a batch has no more calls in flight than its gate lets', async (t) => {
    const budget = new PoolBudget(8); // 4 slots for the mount
    let inFlight = 0;
    let most = 0;
    const gate = <T>(call: () => Promise<T>): Promise<T> =>
      budget.run('/mnt/nfs', new AbortController().signal, async () => {
        most = Math.max(most, ++inFlight);
        try {
          return await call();
        } finally {
          inFlight--;
        }
      });
    const options = { batchSize: 16, synchronous: false, gate };
    const entries = (await readAll(t, options)).flat();
    assert.equal(entries.length, FILES / 2);
    assert.equal(most, budget.perMount, 'a batch of 16 lstat calls ran 4 at a time');
    assert.equal(budget.inUse, 0);
  });

  it('borrows the working directory only while it reads a batch, and gives it back', async (t) => {
    const before = process.cwd();
    const seen = new Set<string>();
    // Where each name is read (and lstat'ed right after): inside the listed directory.
    const recording = (dir: string, handle: Dir): Dir => {
      const inner = vanishing(dir, handle);
      return Object.assign(Object.create(inner) as Dir, {
        readSync: () => {
          seen.add(process.cwd());
          return inner.readSync();
        },
      });
    };
    const entries = (
      await readAll(t, { batchSize: 16, synchronous: true, borrowWorkingDirectory: true }, recording)
    ).flat();
    assert.equal(entries.length, FILES / 2);
    assert.equal(process.cwd(), before, 'given back');
    assert.equal(seen.size, 1, [...seen].join(', '));
    assert.match([...seen][0] ?? '', /\/ferry-listing-[^/]+$/, 'the listed directory');
  });
});

describe('ListingReader with the names read in one call (wholeDirectoryBytes)', () => {
  /** Files, a directory, links, a temp upload and a name that is not UTF-8. */
  function mixed(t: TestContext): string {
    const dir = directory(t);
    mkdirSync(join(dir, 'sub'));
    symlinkSync('f001', join(dir, 'link'));
    symlinkSync('/nowhere', join(dir, 'dangling'));
    writeFileSync(Buffer.from(`${dir}/caf\xe9`, 'latin1'), 'not UTF-8');
    return dir;
  }

  async function listing(t: TestContext, dir: string, options: ListingReaderOptions, each?: () => void) {
    const pinned = await new FdJail(dir).pinDir(dir, 'list', '/');
    const handle = opendirSync(pinned.path, { bufferSize: 16 });
    t.after(async () => {
      handle.closeSync();
      await pinned.close();
    });
    const reader = new ListingReader(pinned, handle, v('/d'), options);
    const entries: FileStat[] = [];
    for (let b = await reader.next(); b !== undefined; b = await reader.next()) {
      entries.push(...b);
      each?.();
    }
    return { entries, unaddressable: reader.unaddressable };
  }

  const shown = (entries: FileStat[]): string[] =>
    entries.map((e) => `${e.name} ${e.type} ${e.size} ${e.mode} ${e.id} ${e.modified.getTime()}`).sort();

  for (const [how, slowMs] of [
    ['synchronously', 1_000],
    ['then through the thread pool after a slow batch', -1],
  ] as const)
    it(`gives the same entries as the Dir does, ${how}`, async (t) => {
      const dir = mixed(t);
      const options = { batchSize: 16, synchronous: true, slowMs, borrowWorkingDirectory: true };
      const byDir = await listing(t, dir, options);
      const whole = await listing(t, dir, { ...options, wholeDirectoryBytes: 1 << 20 });
      assert.deepEqual(shown(whole.entries), shown(byDir.entries));
      assert.equal(whole.entries.length, FILES + 3, 'files, sub, link, dangling; no temp upload, no café');
      assert.equal(whole.unaddressable, 1, 'the name that is not UTF-8');
      assert.deepEqual(
        whole.entries.map((e) => e.name),
        byDir.entries.map((e) => e.name).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
        'in the order of their bytes',
      );
    });

  it('leaves out entries removed after the names were read', async (t) => {
    const dir = directory(t);
    let removed = false;
    const { entries } = await listing(
      t,
      dir,
      { batchSize: 16, synchronous: true, wholeDirectoryBytes: 1 << 20 },
      () => {
        if (removed) return;
        removed = true; // after the first batch: the names are read, most not lstat'ed yet
        for (let i = 50; i < FILES; i++) unlinkSync(join(dir, name(i)));
      },
    );
    assert.deepEqual(
      entries.map((e) => e.name),
      Array.from({ length: 50 }, (_, i) => name(i)),
    );
  });

  it('reads through the Dir a directory bigger than wholeDirectoryBytes', async (t) => {
    // The Dir's race (vanishing, readAll): only a listing read through the Dir sees it.
    const options = { batchSize: 16, synchronous: true, wholeDirectoryBytes: 100 };
    const entries = (await readAll(t, options)).flat();
    assert.equal(entries.length, FILES / 2);
  });
});
