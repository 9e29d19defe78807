/**
 * get() with `offset` into a local file: the remote file's bytes from `offset` on are written at
 * `offset`, and the local file then ends where the remote one does (old bytes after them would be a
 * mix of two files). A transfer that fails leaves every byte that was there. An `offset` into a
 * local file that does not exist is refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';

import { LocalError } from '../../src/client/errors.js';
import { ReplyError } from '../../src/errors.js';
import { useFerryFixture } from './ferry-fixture.js';

describe('get() with an offset', { timeout: 60_000 }, () => {
  const f = useFerryFixture('ferry-get-offset-');
  before(() => writeFile(path.join(f.ts.root, 'small.txt'), 'hello\n'));

  it('into a longer local file: the file ends where the remote one does', async () => {
    const local = path.join(f.dir, 'longer.txt');
    await writeFile(local, 'ABCDEFGHIJKLMNOP');
    const r = await f.c.get('/small.txt', local, { offset: 2 });
    assert.equal(r.bytes, 4);
    assert.equal(await readFile(local, 'utf8'), 'ABllo\n');
  });

  it('into a shorter local file: its first bytes stay, the rest is the remote file', async () => {
    const local = path.join(f.dir, 'shorter.txt');
    await writeFile(local, 'AB');
    await f.c.get('/small.txt', local, { offset: 2 });
    assert.equal(await readFile(local, 'utf8'), 'ABllo\n');
  });

  it('refused by the server: the local file keeps every byte', async () => {
    const local = path.join(f.dir, 'kept.txt');
    await writeFile(local, 'ABCDEFGHIJKLMNOP');
    await assert.rejects(f.c.get('/no-such.txt', local, { offset: 2 }), ReplyError);
    assert.equal(await readFile(local, 'utf8'), 'ABCDEFGHIJKLMNOP');
  });

  it('into a local file that does not exist: ERR_LOCAL saying so, nothing created', async () => {
    const local = path.join(f.dir, 'missing.txt');
    await assert.rejects(f.c.get('/small.txt', local, { offset: 2 }), (err: unknown) => {
      assert.ok(err instanceof LocalError, String(err));
      assert.equal(err.systemCode, 'ENOENT');
      assert.match(err.message, /at offset 2: the file does not exist/);
      return true;
    });
    await assert.rejects(stat(local), { code: 'ENOENT' });
    assert.equal((await f.c.send('NOOP')).code, 200);
  });

  it('offset 0 into a local file that does not exist creates it', async () => {
    const local = path.join(f.dir, 'new.txt');
    await f.c.get('/small.txt', local, { offset: 0 });
    assert.equal(await readFile(local, 'utf8'), 'hello\n');
  });
});
