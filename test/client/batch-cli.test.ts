/**
 * `ferry get` and `ferry put` of several files and of patterns (mget/mput), as a user runs them,
 * against Ferry's own server over explicit and implicit FTPS: remote patterns expanded from the
 * listing, several URLs into one directory, quoted local patterns, --parallel over several
 * connections, a missing file among others (the others still done, the failure named, exit 6), a
 * pattern that matches nothing, and the target that must be a directory.
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

describe('ferry get/put of several files against the Ferry server', { timeout: 240_000 }, () => {
  let ts: TestServer;
  let home: string;
  let env: Record<string, string>;
  let common: string[];

  before(async () => {
    ts = await startFerry();
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-batch-'));
    const pin = `sha256:${new X509Certificate((await testCertificate()).cert).fingerprint256}`;
    env = { HOME: home, FERRY_PASSWORD: ts.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
    common = ['--fingerprint', pin, '--quiet'];
  });

  after(async () => {
    await ts?.close();
    await rm(home, { recursive: true, force: true });
  });

  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);
  const sorted = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

  for (const mode of ['explicit', 'implicit'] as const) {
    describe(`${mode} FTPS`, () => {
      let base: string;
      const dir = `logs-${mode}`;

      before(async () => {
        const port = mode === 'implicit' ? ts.implicitPort : ts.explicitPort;
        base = `${mode === 'implicit' ? 'ftps' : 'ftpes'}://${ts.user}@${ts.host}:${port}`;
        await mkdir(path.join(ts.root, dir, 'sub.gz'), { recursive: true });
        for (const name of ['a.gz', 'b.gz', 'c.txt', '.hidden.gz', 'x[1].gz', 'f 2.gz'])
          await writeFile(path.join(ts.root, dir, name), `${name} in ${mode}\n`.repeat(1000));
      });

      const local = async (name: string): Promise<string> => {
        const d = path.join(home, `${mode}-${name}`);
        await mkdir(d);
        return d;
      };

      it('get with a pattern: the matching files (not hidden ones, not directories) into the directory', async () => {
        const out = await local('glob');
        ok(await ferry(['get', ...common, `${base}/${dir}/*.gz`, out], env));
        assert.deepEqual(await sorted(out), ['a.gz', 'b.gz', 'f 2.gz', 'x[1].gz']);
        assert.equal(
          await readFile(path.join(out, 'f 2.gz'), 'utf8'),
          await readFile(path.join(ts.root, dir, 'f 2.gz'), 'utf8'),
        );
        const classes = await local('classes');
        ok(
          await ferry(
            ['get', ...common, `${base}/${dir}/[ab].?z`, `${base}/${dir}/x\\[1\\].gz`, classes],
            env,
          ),
        );
        assert.deepEqual(await sorted(classes), ['a.gz', 'b.gz', 'x[1].gz']);
        // Alone, a quoted name is the file it names too (it was sent with its backslashes: 553).
        const alone = await local('quoted-alone');
        ok(await ferry(['get', ...common, `${base}/${dir}/x\\[1\\].gz`, alone], env));
        assert.deepEqual(await sorted(alone), ['x[1].gz']);
        const up = path.join(alone, 'x[1].gz');
        ok(
          await ferry(
            ['put', ...common, path.join(alone, 'x\\[1\\].gz'), `${base}/${dir}/quoted-up.gz`],
            env,
          ),
        );
        assert.equal(
          await readFile(path.join(ts.root, dir, 'quoted-up.gz'), 'utf8'),
          await readFile(up, 'utf8'),
        );
      });

      it('get of several URLs, --parallel 3: every file, over three connections', async () => {
        const out = await local('parallel');
        const names = ['a.gz', 'b.gz', 'c.txt', 'f%202.gz'];
        const logins = ts.logs.filter((l) => l.msg === 'login').length;
        ok(
          await ferry(
            ['get', ...common, '--parallel', '3', ...names.map((n) => `${base}/${dir}/${n}`), out],
            env,
          ),
        );
        assert.deepEqual(await sorted(out), ['a.gz', 'b.gz', 'c.txt', 'f 2.gz']);
        assert.equal(ts.logs.filter((l) => l.msg === 'login').length - logins, 3);
      });

      it('a missing file among others: the others are done, the failure is named, exit 6', async () => {
        const out = await local('missing');
        const r = await ferry(
          [
            'get',
            ...common,
            '--parallel',
            '2',
            `${base}/${dir}/a.gz`,
            `${base}/${dir}/nope.gz`,
            `${base}/${dir}/c.txt`,
            out,
          ],
          env,
        );
        assert.equal(r.code, EXIT.remote, r.stderr);
        assert.match(r.stderr, new RegExp(`get ${dir}/nope\\.gz: RETR ${dir}/nope\\.gz: 550`));
        assert.deepEqual(await sorted(out), ['a.gz', 'c.txt']);
      });

      it('a file named twice, or matched by two patterns, is one file of the total: exit 0', async () => {
        const pin = common.filter((a) => a !== '--quiet');
        const out = await local('twice');
        const get = await ferry(
          ['get', ...pin, `${base}/${dir}/a.gz`, `${base}/${dir}/a.gz`, `${base}/${dir}/[ab].gz`, out],
          env,
        );
        ok(get);
        assert.match(get.stderr, /^Transferred 2 of 2 file\(s\), [^;]* \(2 named twice\)\.$/m);
        assert.deepEqual(await sorted(out), ['a.gz', 'b.gz']);
        const file = path.join(out, 'a.gz');
        // The same file spelled three ways is one file, not two sources with one target.
        const respelled = [`${out}/./a.gz`, `${out}/../${path.basename(out)}/a.gz`];
        const put = await ferry(['put', ...pin, file, ...respelled, `${base}/${dir}/sub.gz/`], env);
        ok(put);
        assert.match(put.stderr, /^Transferred 1 of 1 file\(s\), [^;]* \(2 named twice\)\.$/m);
      });

      it('a pattern that matches nothing is an error naming it; the target must be a directory', async () => {
        const out = await local('nothing');
        const none = await ferry(['get', ...common, `${base}/${dir}/*.zip`, out], env);
        assert.equal(none.code, EXIT.remote);
        assert.match(none.stderr, new RegExp(`No remote file matches ${dir}/\\*\\.zip`));
        const notDir = await ferry(['get', ...common, `${base}/${dir}/*.gz`, path.join(out, 'file')], env);
        assert.equal(notDir.code, EXIT.usage);
        assert.match(notDir.stderr, /must be an existing directory/);
        assert.deepEqual(await readdir(out), []);
      });

      it('a pattern that matches nothing among others fails alone: the rest transferred, exit 6', async () => {
        const pin = common.filter((a) => a !== '--quiet');
        const out = await local('some-unmatched');
        const get = await ferry(
          ['get', ...pin, `${base}/${dir}/[ab].gz`, `${base}/${dir}/*.zip`, `${base}/${dir}/c.txt`, out],
          env,
        );
        assert.equal(get.code, EXIT.remote, get.stderr);
        assert.deepEqual(await sorted(out), ['a.gz', 'b.gz', 'c.txt']);
        assert.match(get.stderr, /^Transferred 3 of 3 file\(s\), [^;]*; 1 pattern matched no file\.$/m);
        assert.match(get.stderr, new RegExp(`get ${dir}/\\*\\.zip: No remote file matches ${dir}/\\*\\.zip`));
        // The same of local patterns (mput).
        const src = await local('some-unmatched-src');
        await writeFile(path.join(src, 'one.log'), 'one\n');
        ok(await ferry(['mkdir', ...common, `${base}/some-${mode}`], env));
        const put = await ferry(
          ['put', ...pin, path.join(src, '*.zip'), path.join(src, '*.log'), `${base}/some-${mode}/`],
          env,
        );
        assert.equal(put.code, EXIT.local, put.stderr);
        assert.deepEqual(await sorted(path.join(ts.root, `some-${mode}`)), ['one.log']);
        assert.match(put.stderr, /^Transferred 1 of 1 file\(s\), [^;]*; 1 pattern matched no file\.$/m);
        assert.match(put.stderr, /put .*\*\.zip: local file: no file matches .*\*\.zip/);
      });

      it('put of several files and a quoted pattern into a remote directory, --parallel 2', async () => {
        const src = await local('put-src');
        for (const n of ['one.log', 'two.log', 'three.txt']) await writeFile(path.join(src, n), `${n}\n`);
        ok(await ferry(['mkdir', ...common, `${base}/up-${mode}`], env));
        ok(
          await ferry(
            [
              'put',
              ...common,
              '--parallel',
              '2',
              path.join(src, 'three.txt'),
              path.join(src, '*.log'),
              `${base}/up-${mode}/`,
            ],
            env,
          ),
        );
        assert.deepEqual(await sorted(path.join(ts.root, `up-${mode}`)), ['one.log', 'three.txt', 'two.log']);
        assert.equal(await readFile(path.join(ts.root, `up-${mode}`, 'two.log'), 'utf8'), 'two.log\n');
        const none = await ferry(['put', ...common, path.join(src, '*.zip'), `${base}/up-${mode}/`], env);
        assert.equal(none.code, EXIT.local);
        assert.match(none.stderr, /no file matches .*\*\.zip/);
        const notDir = await ferry(
          ['put', ...common, path.join(src, '*.log'), `${base}/up-${mode}/one.log`],
          env,
        );
        assert.equal(notDir.code, EXIT.usage);
        assert.match(notDir.stderr, /must be an existing remote directory/);
      });
    });
  }
});
