/**
 * `ferry mirror --size-only` (rsync's; lftp --ignore-time): files of the same size are left alone
 * whatever their times, so a fresh checkout's new times send nothing again; another size is sent.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry } from './helpers.js';
import { FakeFtp } from './support/fake-ftp.js';

describe('ferry mirror --size-only', { timeout: 60_000 }, () => {
  let tmp: string;
  let server: FakeFtp;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-size-only-'));
    server = await FakeFtp.start({ features: ['MLSD', 'SIZE'] });
  });
  after(async () => {
    await server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('sends only the file whose size differs', async () => {
    const old = new Date('2024-01-02T03:04:05Z');
    server.files.set('same.txt', { data: Buffer.from('abc'), modified: old });
    server.files.set('grown.txt', { data: Buffer.from('abc'), modified: old });
    const d = path.join(tmp, 'site');
    await mkdir(d);
    await writeFile(path.join(d, 'same.txt'), 'xyz');
    await writeFile(path.join(d, 'grown.txt'), 'abcdef');
    const url = `ftp://u@127.0.0.1:${server.port}/`;
    const r = await ferry(['mirror', '--allow-plain', '--no-perms', '--size-only', d, url], {
      FERRY_PASSWORD: 'p',
    });
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(
      server.commands.filter((c) => c.startsWith('STOR')),
      ['STOR grown.txt'],
    );
    assert.match(r.stderr, /1 skipped \(1 unchanged\)/);
  });
});
