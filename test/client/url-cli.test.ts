/**
 * URLs as `ferry` reads them from its command line, against Ferry's own server: a password in a
 * malformed URL (or in an argument taken for a local path) is never echoed, a percent-encoded `*`,
 * `?` or `[` is the character itself and no wildcard, and an RFC 1738 typecode (`;type=i`) is no
 * part of the file name (`;type=d` lists a directory's names with NLST).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startFerry, testCertificate, type TestServer } from '../support/ferry.js';
import { ferry, type CliResult } from './helpers.js';

const NAMES = ['star*.txt', 'starX.txt', 'q?.txt', 'qX.txt', 'x[1].gz', 'x1.gz', 'hello.txt'];

describe('ferry URLs: passwords, encoded wildcards, typecodes', { timeout: 120_000 }, () => {
  let ts: TestServer;
  let home: string;
  let env: Record<string, string>;
  let common: string[];
  let base: string;
  const dir = 'names';

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-url-'));
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    env = { HOME: home, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
    common = ['--fingerprint', pin, '--quiet'];
    base = `ftpes://${ts.user}@${ts.host}:${ts.explicitPort}/${dir}`;
    await mkdir(path.join(ts.root, dir));
    for (const name of NAMES) await writeFile(path.join(ts.root, dir, name), `${name}\n`);
  });

  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);
  let n = 0;
  const local = async (): Promise<string> => {
    const d = path.join(home, `out-${n++}`);
    await mkdir(d);
    return d;
  };
  const logins = (): number => ts.logs.filter((l) => l.msg === 'login').length;

  it('a password in a malformed URL, or in an argument taken for a local path, is masked', async () => {
    const file = path.join(home, 'upload.txt');
    await writeFile(file, 'x\n');
    const other = `${base}/hello.txt`;
    const cases: { args: string[]; secret: string; code: number; says: RegExp }[] = [
      {
        args: ['ls', 'ftps://bob:Sekr/tPW@localhost:1/'],
        secret: 'tPW',
        code: EXIT.usage,
        says: /Invalid host/,
      },
      {
        args: ['ls', 'ftps:/bob:TOPSECRET@localhost:1/'],
        secret: 'TOPSECRET',
        code: EXIT.usage,
        says: /^ferry: URL must/,
      },
      {
        args: ['ls', 'sftp://bob:pa/ss@host/'],
        secret: 'pa/ss',
        code: EXIT.usage,
        says: /got "sftp:\/\/bob:\*\*\*\*@host\/"/,
      },
      {
        args: ['get', 'ftps:/bob:TOPSECRET@h/f', home],
        secret: 'TOPSECRET',
        code: EXIT.usage,
        says: /^ferry: URL must|Each source/,
      },
      {
        args: ['put', file, 'ftps:/bob:TOPSECRET@h/f'],
        secret: 'TOPSECRET',
        code: EXIT.usage,
        says: /The last argument/,
      },
      // The last argument of get is not a URL, so it is the local target.
      {
        args: ['get', other, other, 'ftps:/bob:TOPSECRET@h/f'],
        secret: 'TOPSECRET',
        code: EXIT.usage,
        says: /existing directory/,
      },
      // A put's source that is not a URL is a local file: the file system's error names it.
      {
        args: ['put', 'ftps:/bob:TOP/SECRET@h/f', `${base}/`],
        secret: 'SECRET',
        code: EXIT.local,
        says: /ENOENT.*ftps:\/bob:\*\*\*\*@h\/f/,
      },
    ];
    for (const c of cases) {
      const r = await ferry([c.args[0] ?? '', ...common, ...c.args.slice(1)], env);
      assert.equal(r.code, c.code, `${c.args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, c.says, c.args.join(' '));
      assert.ok(!r.stderr.includes(c.secret), `${c.args.join(' ')} echoed the password: ${r.stderr}`);
      assert.ok(r.stderr.includes('****'), r.stderr);
    }
  });

  it('%2A, %3F and %5B%5D are the characters themselves, not wildcards; \\ still quotes', async () => {
    const out = await local();
    ok(await ferry(['get', ...common, `${base}/star%2A.txt`, path.join(out, 'out.txt')], env));
    assert.equal(await readFile(path.join(out, 'out.txt'), 'utf8'), 'star*.txt\n');
    const into = await local();
    ok(await ferry(['get', ...common, `${base}/q%3F.txt`, `${base}/x%5B1%5D.gz`, into], env));
    assert.deepEqual((await readdir(into)).sort(), ['q?.txt', 'x[1].gz']);
    const cat = await ferry(['cat', ...common, `${base}/star%2A.txt`], env);
    ok(cat);
    assert.equal(cat.stdout, 'star*.txt\n');
    const quoted = await local();
    ok(await ferry(['get', ...common, `${base}/star\\*.txt`, quoted], env));
    assert.deepEqual(await readdir(quoted), ['star*.txt']);
    const pattern = await local();
    ok(await ferry(['get', ...common, `${base}/star*`, pattern], env));
    assert.deepEqual((await readdir(pattern)).sort(), ['star*.txt', 'starX.txt']);
  });

  it(';type=i is dropped, ;type=d lists names (NLST), ;type=a is refused before connecting', async () => {
    const cat = await ferry(['cat', ...common, `${base}/hello.txt;type=i`], env);
    ok(cat);
    assert.equal(cat.stdout, 'hello.txt\n');
    const out = await local();
    ok(await ferry(['get', ...common, `${base}/hello.txt;type=I`, out], env));
    assert.deepEqual(await readdir(out), ['hello.txt']);
    // ;type=d: the names only, from NLST (RFC 1738), without -1.
    const ls = await ferry(['ls', '--verbose', ...common, `${base};type=d`], env);
    ok(ls);
    assert.equal(ls.stdout, `${[...NAMES].sort().join('\n')}\n`);
    assert.match(ls.stderr, /^> NLST/m);
    assert.doesNotMatch(ls.stderr, /^> (LIST|MLSD)/m);
    const before = logins();
    const json = await ferry(['ls', '--json', ...common, `${base};type=d`], env);
    assert.equal(json.code, EXIT.usage, json.stderr);
    assert.match(json.stderr, /;type=d lists names only \(NLST\)/);
    const ascii = await ferry(['cat', ...common, `${base}/hello.txt;type=a`], env);
    assert.equal(ascii.code, EXIT.usage, ascii.stderr);
    assert.match(ascii.stderr, /ASCII mode \(;type=a\) is not supported/);
    assert.equal(logins(), before);
  });
});
