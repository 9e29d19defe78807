/**
 * What scripts that replace curl and lftp with `ferry` rely on, against Ferry's own server:
 * - `get -R`/`put -R` (curl's --remote-time) keep the source's modification time, one file or
 *   several (without it the copy has the time it was written, as before);
 * - `cat` of several URLs writes them in order over one connection, and the first failure ends it
 *   with its exit code; with --insecure, each server is warned of once, by its name;
 * - `ls --json` gives every entry the same keys, null where the server told nothing.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { ferry, type CliResult } from './helpers.js';

const NEW_YEAR_2020 = new Date('2020-01-01T00:00:00Z');
const MIDSUMMER_2019 = new Date('2019-06-21T12:34:56Z');

describe('ferry in scripts: -R, cat of several files, ls --json', { timeout: 120_000 }, () => {
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
  const mtime = async (file: string): Promise<string> => (await stat(file)).mtime.toISOString();
  let n = 0;
  const local = async (): Promise<string> => {
    const d = path.join(home, `out-${n++}`);
    await mkdir(d);
    return d;
  };
  const logins = (): number => ts.logs.filter((l) => l.msg === 'login').length;

  it("get -R keeps the server's modification time, one file or several; without it, the copy's own", async () => {
    const plain = await local();
    ok(await ferry(['get', ...common, `${base}/a.txt`, plain], env));
    assert.notEqual(await mtime(path.join(plain, 'a.txt')), NEW_YEAR_2020.toISOString());

    const one = await local();
    ok(await ferry(['get', '-R', ...common, `${base}/a.txt`, path.join(one, 'kept.txt')], env));
    assert.equal(await mtime(path.join(one, 'kept.txt')), NEW_YEAR_2020.toISOString());

    const several = await local();
    ok(await ferry(['get', '--remote-time', ...common, `${base}/[ab].txt`, `${base}/c.txt`, several], env));
    for (const name of ['a.txt', 'b.txt', 'c.txt'])
      assert.equal(await mtime(path.join(several, name)), NEW_YEAR_2020.toISOString(), name);
  });

  it("put -R gives the remote file the local file's time (MFMT), one file or several", async () => {
    const src = await local();
    for (const name of ['p.txt', 'q.txt', 'r.txt']) {
      await writeFile(path.join(src, name), `${name}\n`);
      await utimes(path.join(src, name), MIDSUMMER_2019, MIDSUMMER_2019);
    }
    ok(await ferry(['put', '-R', ...common, path.join(src, 'p.txt'), `${base}/sub/`], env));
    assert.equal(await mtime(path.join(ts.root, dir, 'sub', 'p.txt')), MIDSUMMER_2019.toISOString());
    ok(
      await ferry(
        ['put', '-R', ...common, path.join(src, 'q.txt'), path.join(src, 'r.txt'), `${base}/sub/`],
        env,
      ),
    );
    for (const name of ['q.txt', 'r.txt'])
      assert.equal(await mtime(path.join(ts.root, dir, 'sub', name)), MIDSUMMER_2019.toISOString(), name);
  });

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

  it('cat --insecure of URLs on two servers: one warning for each, naming it', async () => {
    const implicit = `ftps://${ts.user}@${ts.host}:${ts.implicitPort}/${dir}`;
    const cat = await ferry(
      ['cat', '--insecure', `${base}/a.txt`, `${implicit}/b.txt`, `${base}/c.txt`],
      env,
    );
    ok(cat);
    assert.equal(cat.stdout, 'a.txt\nb.txt\nc.txt\n');
    const warned = [
      ...cat.stderr.matchAll(/Warning: not verifying the certificate of (\S+) \(--insecure\)/g),
    ];
    assert.deepEqual(
      warned.map((m) => m[1]),
      [`${ts.host}:${ts.explicitPort}`, `${ts.host}:${ts.implicitPort}`],
      cat.stderr,
    );
  });

  it('get into a local directory that does not exist (nolocal/): said so, exit 7, nothing made', async () => {
    const out = await local();
    const missing = path.join(out, 'nolocal');
    const r = await ferry(['get', ...common, '--quiet', `${base}/a.txt`, `${missing}/`], env);
    assert.equal(r.code, EXIT.local, r.stderr);
    assert.match(r.stderr, /^ferry: local file: ENOENT: the local directory .*nolocal\/ does not exist$/m);
    assert.doesNotMatch(r.stderr, /EISDIR/);
    await assert.rejects(stat(missing), { code: 'ENOENT' });
    // A file under a missing directory keeps Node's own words.
    const under = await ferry(
      ['get', ...common, '--quiet', `${base}/a.txt`, path.join(missing, 'x.txt')],
      env,
    );
    assert.equal(under.code, EXIT.local, under.stderr);
    assert.match(under.stderr, /^ferry: local file: ENOENT: no such file or directory, open /m);
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
        ['name', 'type', 'size', 'modified', 'modifiedPrecision', 'mode', 'target'],
        String(e['name']),
      );
    const [a, , , sub] = entries;
    assert.deepEqual(a, {
      name: 'a.txt',
      type: 'file',
      size: 6,
      modified: NEW_YEAR_2020.toISOString(),
      modifiedPrecision: 'second', // MLSD's modify fact
      mode: a?.['mode'],
      target: null,
    });
    assert.match(String(a?.['mode']), /^0[0-7]{3}$/);
    assert.equal(sub?.['type'], 'dir');
    assert.equal(sub?.['target'], null);
  });
});
