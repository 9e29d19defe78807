/**
 * `mirror` with `exclude` / `include` (`--exclude GLOB`, `--include GLOB`) against Ferry's own
 * server: what is left out is neither transferred nor walked, and `--delete` never deletes it on
 * the destination (nor a directory holding it); `include` alone mirrors only the files it matches.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import type { FerryClient } from '../../src/client/client.js';
import { mirror } from '../../src/client/mirror.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { clientOf, ferry } from './helpers.js';

describe('mirror --exclude / --include against Ferry', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let client: FerryClient;

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-mirror-filter-'));
    client = await clientOf(ts);
  });
  after(async () => {
    await client?.close();
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const put = async (file: string, content: string): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  };
  const has = (...p: string[]): boolean => existsSync(path.join(...p));

  it('upload with --delete: excluded entries are not sent, and not deleted on the server', async () => {
    const local = path.join(home, 'up');
    for (const f of ['a.txt', 'b.tmp', 'cache/x', 'sub/c.txt', 'sub/.d.tmp', 'sub/keep.tmp'])
      await put(path.join(local, f), f);
    const r = path.join(ts.root, 'up');
    for (const f of ['old.tmp', 'cache/old', 'gone.txt', 'olddir/x.tmp', 'olddir/y.txt'])
      await put(path.join(r, f), f);
    const result = await mirror(client, {
      direction: 'upload',
      local,
      remote: 'up',
      delete: true,
      exclude: ['*.tmp', 'cache'],
      include: ['keep.tmp'],
    });
    assert.deepEqual([...result.files].sort(), ['a.txt', 'sub/c.txt', 'sub/keep.tmp']);
    assert.ok(!has(r, 'b.tmp') && !has(r, 'sub', '.d.tmp') && !has(r, 'cache', 'x'));
    assert.ok(has(r, 'old.tmp') && has(r, 'cache', 'old'), 'excluded: not deleted');
    assert.ok(!has(r, 'gone.txt') && !has(r, 'olddir', 'y.txt'), 'the rest of --delete');
    assert.ok(has(r, 'olddir', 'x.tmp'), 'a directory holding an excluded file stays with it');
  });

  it('download with include alone: only the files it matches, in every directory', async () => {
    const r = path.join(ts.root, 'down');
    for (const f of ['a.txt', 'a.bin', 'd/b.txt', 'd/b.bin']) await put(path.join(r, f), f);
    const local = path.join(home, 'down');
    const result = await mirror(client, { direction: 'download', local, remote: 'down', include: ['*.txt'] });
    assert.deepEqual([...result.files].sort(), ['a.txt', 'd/b.txt']);
    assert.equal(await readFile(path.join(local, 'd', 'b.txt'), 'utf8'), 'd/b.txt');
    assert.ok(!has(local, 'a.bin') && !has(local, 'd', 'b.bin'));
  });

  it('ferry mirror --exclude (repeatable) and --include; a pattern for no name: exit 2', async () => {
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    const env = {
      HOME: home,
      FERRY_PASSWORD: ts.password,
      FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts'),
    };
    const url = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/down`;
    const local = path.join(home, 'cli');
    const args = [
      'mirror',
      '--fingerprint',
      pin,
      '--exclude',
      '*.bin',
      '--exclude',
      'd',
      '--include',
      'a.bin',
      url,
      local,
    ];
    const ok = await ferry(args, env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(has(local, 'a.txt') && has(local, 'a.bin') && !has(local, 'd'));
    const bad = await ferry(['mirror', '--fingerprint', pin, '--exclude', 'd/', url, local], env);
    assert.equal(bad.code, EXIT.usage, bad.stderr);
  });
});
