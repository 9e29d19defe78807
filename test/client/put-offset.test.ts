/**
 * put() with `offset`: the remote file's first `offset` bytes stay and the source's bytes from
 * `offset` on are written after them (REST + STOR), whether the source is a file or a stream (a
 * stream's first `offset` bytes are read and skipped, as `resume` does). A source shorter than the
 * offset is refused before anything is stored.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';

import type { FerryClient } from '../../src/client/client.js';
import { LocalError } from '../../src/client/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { clientOf } from './helpers.js';

describe('put() with an offset', { timeout: 60_000 }, () => {
  let ts: TestServer;
  let c: FerryClient;
  let dir: string;
  let source: string;
  const remote = (): Promise<string> => readFile(path.join(ts.root, 'r.txt'), 'utf8');
  before(async () => {
    ts = await startFerry();
    c = await clientOf(ts);
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-put-offset-'));
    source = path.join(dir, 'source.txt');
    await writeFile(source, 'abcdefghij');
  });
  beforeEach(() => writeFile(path.join(ts.root, 'r.txt'), '0123456789'));
  after(async () => {
    c?.destroy();
    await ts?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('from a file: its first bytes are skipped', async () => {
    const r = await c.put(source, '/r.txt', { offset: 5 });
    assert.equal(r.bytes, 5);
    assert.equal(await remote(), '01234fghij');
  });

  it('from a stream: the same bytes as from the file', async () => {
    const r = await c.put(Readable.from([Buffer.from('abc'), Buffer.from('defghij')]), '/r.txt', {
      offset: 5,
    });
    assert.equal(r.bytes, 5);
    assert.equal(await remote(), '01234fghij');
  });

  it('from a stream exactly as long as the offset: the remote file ends at the offset', async () => {
    const r = await c.put(Readable.from([Buffer.from('abcde')]), '/r.txt', { offset: 5 });
    assert.equal(r.bytes, 0);
    assert.equal(await remote(), '01234');
  });

  for (const kind of ['file', 'stream'] as const) {
    it(`from a ${kind} shorter than the offset: ERR_LOCAL, the remote file as it was`, async () => {
      const from = kind === 'file' ? source : Readable.from([Buffer.from('abcdefghij')]);
      await assert.rejects(c.put(from, '/r.txt', { offset: 12 }), (err: unknown) => {
        assert.ok(err instanceof LocalError, String(err));
        assert.match(err.message, /offset 12 is beyond the end of the (file|stream) \(10 bytes\)/);
        return true;
      });
      assert.equal(await remote(), '0123456789');
    });
  }
});
