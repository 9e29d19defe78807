import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { opendirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FdJail } from './fd-jail.js';
import { ListingReader } from './listing-stat.js';
import { LocalStorage } from './local.js';
import { ctx, v } from './test-support.js';
import type { StorageContext } from './types.js';
import { newTempName } from './upload-temp.js';

/** A directory holding every kind of entry a listing meets. */
async function mixed(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-names-only-'));
  const sock = createServer();
  t.after(async () => {
    sock.close();
    await rm(root, { recursive: true, force: true });
  });
  const d = join(root, 'd');
  await mkdir(join(d, 'sub'), { recursive: true });
  await writeFile(join(d, 'plain.txt'), 'abc');
  await writeFile(join(d, newTempName()), 'an upload under way');
  await writeFile(Buffer.from(join(d, 'caf\xe9.txt'), 'latin1'), 'not UTF-8'); // no client can name it
  await symlink('plain.txt', join(d, 'inside'));
  await symlink('/etc/passwd', join(d, 'outside'));
  assert.equal(spawnSync('mkfifo', [join(d, 'pipe')]).status, 0, 'mkfifo');
  await new Promise<void>((resolve) => sock.listen(join(d, 'sock'), resolve));
  return root;
}

/** The listing's names and types, sorted, and how many names it said no client could address. */
async function listing(s: LocalStorage, more: Partial<StorageContext>): Promise<[string[], number]> {
  let unaddressable = 0;
  const c = { ...ctx(), ...more, unaddressable: (_dir: string, n: number) => void (unaddressable += n) };
  const seen: string[] = [];
  for await (const batch of s.list(v('/d'), c)) for (const e of batch) seen.push(`${e.type} ${e.name}`);
  return [seen.sort(), unaddressable];
}

describe('LocalStorage: a names-only listing (NLST)', () => {
  for (const borrow of [false, true])
    it(`gives the entries and types a full one gives${borrow ? ', from inside the directory' : ''}`, async (t) => {
      const s = new LocalStorage({ root: await mixed(t), borrowWorkingDirectory: borrow });
      const full = await listing(s, {});
      assert.deepEqual(full, [['dir sub', 'file plain.txt', 'link inside', 'link outside'], 1]);
      assert.deepEqual(await listing(s, { namesOnly: true }), full);
    });
});

describe('ListingReader: names only', () => {
  it('gives what a full listing gives through the thread pool (a tree not all on local filesystems)', async (t) => {
    const root = await mixed(t);
    let calls = 0; // into the thread pool: readdir's and lstat's
    const gate = <T>(call: () => Promise<T>): Promise<T> => (calls++, call());
    const read = async (namesOnly: boolean): Promise<[string[], number]> => {
      const jail = new FdJail(root);
      const pinned = await jail.pinDir(join(root, 'd'), 'list', '/d');
      const handle = opendirSync(pinned.path, { bufferSize: 2 });
      const reader = new ListingReader(pinned, handle, v('/d'), {
        batchSize: 2,
        synchronous: false,
        namesOnly,
        gate,
      });
      const seen: string[] = [];
      try {
        for (let b = await reader.next(); b !== undefined; b = await reader.next())
          for (const e of b) seen.push(`${e.type} ${e.name}`);
      } finally {
        handle.closeSync();
        await pinned.close();
      }
      return [seen.sort(), reader.unaddressable];
    };
    const full = await read(false);
    const fullCalls = calls;
    assert.deepEqual(full, [['dir sub', 'file plain.txt', 'link inside', 'link outside'], 1]);
    assert.deepEqual(await read(true), full);
    // Of the 7 entries listed or lstat'ed, only the name that is not UTF-8 is looked up.
    assert.equal(calls - fullCalls, fullCalls - 6);
  });
});
