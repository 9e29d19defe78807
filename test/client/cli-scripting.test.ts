/**
 * What scripts that replace curl and lftp with `ferry` rely on, against Ferry's own server:
 * - `cat` of several URLs writes them in order over one connection, and the first failure ends it
 *   with its exit code;
 * - `ls --json` gives every entry the same keys, null where the server told nothing.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { ferry, type CliResult } from './helpers.js';

const NEW_YEAR_2020 = new Date('2020-01-01T00:00:00Z');

describe('ferry in scripts: cat of several files, ls --json', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let env: Record<string, string>;
  let common: string[];
  let base: string;
  const dir = 'scripted';

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-scripting-'));
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    env = { HOME: home, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
    common = ['--fingerprint', pin];
    base = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${dir}`;
    await mkdir(path.join(ts.root, dir, 'sub'), { recursive: true });
    for (const name of ['a.txt', 'b.txt', 'c.txt']) {
      const file = path.join(ts.root, dir, name);
      await writeFile(file, `${name}\n`);
      await utimes(file, NEW_YEAR_2020, NEW_YEAR_2020);
    }
  });

  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);
  const logins = (): number => ts.logs.filter((l) => l.msg === 'login').length;

  it('cat of several URLs: each whole, in order, over one connection; the first failure ends it', async () => {
    const before = logins();
    const cat = await ferry(
      ['cat', ...common, '--quiet', `${base}/b.txt`, `${base}/a.txt`, `${base}/b.txt`],
      env,
    );
    ok(cat);
    assert.equal(cat.stdout, 'b.txt\na.txt\nb.txt\n');
    assert.equal(logins() - before, 1);

    const missing = await ferry(
      ['cat', ...common, '--quiet', `${base}/a.txt`, `${base}/nope.txt`, `${base}/c.txt`],
      env,
    );
    assert.equal(missing.code, EXIT.remote, missing.stderr);
    assert.equal(missing.stdout, 'a.txt\n', 'nothing after the failure');
    assert.match(missing.stderr, /nope\.txt.*550/);
  });

  it('ls --json: every entry has every key, null where the server told nothing', async () => {
    const r = await ferry(['ls', '--json', ...common, '--quiet', `${base}/`], env);
    ok(r);
    const entries = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      entries.map((e) => e['name']),
      ['a.txt', 'b.txt', 'c.txt', 'sub'],
    );
    for (const e of entries)
      assert.deepEqual(
        Object.keys(e),
        ['name', 'type', 'size', 'modified', 'mode', 'target'],
        String(e['name']),
      );
    const [a, , , sub] = entries;
    assert.deepEqual(a, {
      name: 'a.txt',
      type: 'file',
      size: 6,
      modified: NEW_YEAR_2020.toISOString(),
      mode: a?.['mode'],
      target: null,
    });
    assert.match(String(a?.['mode']), /^0[0-7]{3}$/);
    assert.equal(sub?.['type'], 'dir');
    assert.equal(sub?.['target'], null);
  });
});
