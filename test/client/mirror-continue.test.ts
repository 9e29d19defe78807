/**
 * `ferry mirror -c` (lftp mirror -c): a destination file smaller than the source, left by an
 * interrupted mirror, is continued (REST for a download, APPE for an upload) rather than sent
 * again from its first byte; without -c it is sent whole, as before.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry } from './helpers.js';
import { FakeFtp } from './support/fake-ftp.js';

const env = { FERRY_PASSWORD: 'p' };
const BODY = Buffer.from('0123456789abcdef'.repeat(4096)); // 64 KiB
const HELD = 5000;

describe('ferry mirror --continue', { timeout: 60_000 }, () => {
  let tmp: string;
  let server: FakeFtp;
  let url: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-continue-'));
    server = await FakeFtp.start({ features: ['MLSD', 'SIZE', 'REST STREAM'] });
    url = `ftp://u@127.0.0.1:${server.port}/`;
  });

  after(async () => {
    await server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const partialDownload = async (name: string): Promise<string> => {
    server.files.clear();
    server.files.set('big.bin', { data: BODY, modified: new Date('2024-01-02T03:04:05Z') });
    server.commands.length = 0;
    const d = path.join(tmp, name);
    await mkdir(d);
    await writeFile(path.join(d, 'big.bin'), BODY.subarray(0, HELD));
    return d;
  };

  it('a download continues a smaller local file with REST', async () => {
    const d = await partialDownload('down');
    const r = await ferry(['mirror', '--allow-plain', '-c', url, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'big.bin')), BODY);
    assert.ok(server.commands.includes(`REST ${HELD}`), server.commands.join('\n'));
    // Only what travelled is counted.
    assert.match(
      r.stderr,
      new RegExp(`Transferred 1 file\\(s\\), ${((BODY.length - HELD) / 1024).toFixed(1)} KiB`),
    );
  });

  it('without -c the file is sent whole', async () => {
    const d = await partialDownload('whole');
    const r = await ferry(['mirror', '--allow-plain', url, d], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(path.join(d, 'big.bin')), BODY);
    assert.ok(!server.verbs.includes('REST'), server.commands.join('\n'));
  });

  it('an upload continues a smaller remote file with APPE', async () => {
    server.files.clear();
    server.files.set('big.bin', { data: BODY.subarray(0, HELD), modified: new Date() });
    server.commands.length = 0;
    const d = path.join(tmp, 'up');
    await mkdir(d);
    await writeFile(path.join(d, 'big.bin'), BODY);
    const r = await ferry(['mirror', '--allow-plain', '--continue', '--no-perms', d, url], env);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(server.files.get('big.bin')?.data, BODY);
    assert.ok(server.commands.includes('APPE big.bin'), server.commands.join('\n'));
  });
});
