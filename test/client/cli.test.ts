/**
 * The `ferry` client commands as a user runs them (child processes), against real vsftpd
 * (explicit, require_ssl_reuse=YES) and ProFTPD (implicit): transfers, file operations, certificate
 * trust (CA, pinning, TOFU, changed key, --insecure), credentials (FERRY_PASSWORD, .netrc), the
 * verbose dialogue with the password masked, and the documented exit codes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { startProftpd, startVsftpd, type FtpsPeer } from '../support/peers.js';
import { freePort } from '../support/ports.js';
import { CLI, ferry, type CliResult, randomFile, sha256File } from './helpers.js';

function fingerprintOfPem(pem: string): string {
  return `sha256:${new X509Certificate(pem).fingerprint256}`;
}

describe('ferry CLI against vsftpd (explicit FTPS)', { timeout: 480_000 }, () => {
  let peer: FtpsPeer;
  let home: string;
  let base: string;
  let env: Record<string, string>;
  let common: string[];

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-cli-'));
    peer = await startVsftpd();
    base = `ftpes://${peer.user}@${peer.host}:${peer.port}`;
    env = { HOME: home, FERRY_PASSWORD: peer.password, FERRY_KNOWN_HOSTS: path.join(home, 'known_hosts') };
    common = ['--ca', peer.certificate.certFile, '--quiet'];
  });

  after(async () => {
    await peer?.stop();
    await rm(home, { recursive: true, force: true });
  });

  const ok = (r: CliResult): void => assert.equal(r.code, EXIT.ok, `exit ${r.code}\n${r.stderr}`);

  it('put, ls, get, cat: the bytes come back equal', async () => {
    const src = path.join(home, 'data.bin');
    await randomFile(src, 3 * 1024 * 1024 + 17);
    ok(await ferry(['put', ...common, src, `${base}/`], env));
    const ls = await ferry(['ls', ...common, `${base}/`], env);
    ok(ls);
    assert.match(ls.stdout, /^-rw-r--r-- +3145745 {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}data\.bin$/m);
    const names = await ferry(['ls', '-1', ...common, `${base}/`], env);
    assert.equal(names.stdout, 'data.bin\n');
    const json = JSON.parse((await ferry(['ls', '--json', ...common, base], env)).stdout) as {
      name: string;
      size: number;
    }[];
    assert.deepEqual(
      json.map((e) => [e.name, e.size]),
      [['data.bin', 3145745]],
    );
    const out = path.join(home, 'out');
    await mkdir(out);
    ok(await ferry(['get', ...common, `${base}/data.bin`, out], env));
    assert.equal(await sha256File(path.join(out, 'data.bin')), await sha256File(src));
    await writeFile(path.join(home, 'hello.txt'), 'hello, ferry\n');
    ok(await ferry(['put', ...common, path.join(home, 'hello.txt'), `${base}/greeting.txt`], env));
    const cat = await ferry(['cat', ...common, `${base}/greeting.txt`], env);
    ok(cat);
    assert.equal(cat.stdout, 'hello, ferry\n');
  });

  it('mkdir -p, mv, chmod, rm, rm -r, quote', async () => {
    ok(await ferry(['mkdir', '-p', ...common, `${base}/a/b%20c/d`], env));
    assert.ok(existsSync(path.join(peer.root, 'a', 'b c', 'd')));
    await peer.putFile('a/b c/d/f.txt', 'x');
    ok(await ferry(['mv', ...common, `${base}/a/b%20c/d/f.txt`, 'a/g.txt'], env));
    assert.ok(existsSync(path.join(peer.root, 'a', 'g.txt')));
    ok(await ferry(['chmod', ...common, '600', `${base}/a/g.txt`], env));
    ok(await ferry(['rm', ...common, `${base}/a/g.txt`], env));
    assert.equal((await ferry(['rm', ...common, `${base}/a`], env)).code, EXIT.remote);
    ok(await ferry(['rm', '-r', ...common, `${base}/a`], env));
    assert.ok(!existsSync(path.join(peer.root, 'a')));
    const q = await ferry(['quote', ...common, base, 'SYST'], env);
    ok(q);
    assert.match(q.stdout, /^215 /);
    const bad = await ferry(['quote', ...common, base, 'SITE', 'NOSUCHTHING'], env);
    assert.equal(bad.code, EXIT.remote);
  });

  it('resumes a partial download with get -c', async () => {
    const src = path.join(home, 'resume.bin');
    await randomFile(src, 2 * 1024 * 1024);
    await peer.putFile('resume.bin', await readFile(src));
    const dst = path.join(home, 'resume.part');
    await writeFile(dst, (await readFile(src)).subarray(0, 700_000));
    ok(await ferry(['get', '-c', ...common, `${base}/resume.bin`, dst], env));
    assert.equal(await sha256File(dst), await sha256File(src));
  });

  it('mirrors a tree up and down', async () => {
    const tree = path.join(home, 'tree');
    await mkdir(path.join(tree, 'x', 'y'), { recursive: true });
    await writeFile(path.join(tree, 'one.txt'), '1');
    await writeFile(path.join(tree, 'x', 'y', 'two.txt'), '22');
    ok(await ferry(['mirror', ...common, '--parallel', '2', tree, `${base}/m`], env));
    assert.equal(await readFile(path.join(peer.root, 'm', 'x', 'y', 'two.txt'), 'utf8'), '22');
    const down = path.join(home, 'tree-down');
    const r = await ferry(['mirror', ...common.filter((a) => a !== '--quiet'), `${base}/m`, down], env);
    ok(r);
    assert.match(r.stderr, /Transferred 2 file\(s\)/);
    assert.equal(await readFile(path.join(down, 'x', 'y', 'two.txt'), 'utf8'), '22');
    const again = await ferry(['mirror', ...common.filter((a) => a !== '--quiet'), `${base}/m`, down], env);
    assert.match(again.stderr, /Transferred 0 file\(s\), 0 B; 0 deleted, 2 skipped \(2 unchanged\)\./);

    // A dry run with --delete says what it would do, and does nothing.
    await writeFile(path.join(down, 'extra.txt'), 'extra');
    await writeFile(path.join(tree, 'one.txt'), 'one, changed');
    const dry = await ferry(
      ['mirror', ...common.filter((a) => a !== '--quiet'), '-n', '--delete', tree, `${base}/m`],
      env,
    );
    ok(dry);
    assert.match(dry.stderr, /^would transfer one\.txt \(12 B\)$/m);
    assert.match(dry.stderr, /Would transfer 1 file\(s\), 12 B; would delete 0; 1 skipped \(1 unchanged\)\./);
    const dryDown = await ferry(
      ['mirror', ...common.filter((a) => a !== '--quiet'), '-n', '--delete', `${base}/m`, down],
      env,
    );
    ok(dryDown);
    assert.match(dryDown.stderr, /^would delete extra\.txt$/m);
    assert.match(dryDown.stderr, /would delete 1;/);
    assert.doesNotMatch(dryDown.stderr, /deleted/);
    assert.ok(existsSync(path.join(down, 'extra.txt')));
    assert.equal(await readFile(path.join(peer.root, 'm', 'one.txt'), 'utf8'), '1');
  });

  it('ls shows the size the server reported for a directory, as --json does', async () => {
    ok(await ferry(['mkdir', ...common, `${base}/sized`], env));
    const json = JSON.parse((await ferry(['ls', '--json', ...common, `${base}/`], env)).stdout) as {
      name: string;
      size: number;
    }[];
    const dir = json.find((e) => e.name === 'sized');
    assert.ok(dir && dir.size > 0, `vsftpd reports a size for directories: ${JSON.stringify(dir)}`);
    const ls = await ferry(['ls', ...common, `${base}/`], env);
    ok(ls);
    assert.match(ls.stdout, new RegExp(`^drwx\\S* +${dir.size} .* sized/$`, 'm'));
  });

  it("ls shows LIST's times only as exactly as vsftpd gives them; --json says the precision", async () => {
    const old = await peer.putFile('dated/old.txt', 'old\n');
    await utimes(old, new Date('2020-03-04T15:00:00Z'), new Date('2020-03-04T15:00:00Z'));
    await peer.putFile('dated/new.txt', 'new\n'); // this year: vsftpd shows hours and minutes
    const ls = await ferry(['ls', ...common, `${base}/dated/`], env);
    ok(ls);
    // A day alone, not `2020-03-04 00:00`: vsftpd's `Mar  4  2020` says no time of day.
    assert.match(ls.stdout, /^-\S+ +4 {2}2020-03-04 {8}old\.txt$/m);
    assert.match(ls.stdout, /^-\S+ +4 {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}new\.txt$/m);
    const json = JSON.parse((await ferry(['ls', '--json', ...common, `${base}/dated/`], env)).stdout) as {
      name: string;
      modified: string;
      modifiedPrecision: string;
    }[];
    const by = new Map(json.map((e) => [e.name, e]));
    assert.equal(by.get('old.txt')?.modified, '2020-03-04T00:00:00.000Z');
    assert.equal(by.get('old.txt')?.modifiedPrecision, 'day');
    assert.equal(by.get('new.txt')?.modifiedPrecision, 'minute');
  });

  it('--verbose prints the dialogue with the password masked', async () => {
    const r = await ferry(['ls', ...common, '--verbose', base], env);
    ok(r);
    assert.match(r.stderr, /^> AUTH TLS$/m);
    assert.match(r.stderr, /^> PASS \*\*\*\*$/m);
    assert.match(r.stderr, /^< 230 /m);
    assert.ok(!r.stderr.includes(peer.password), 'the password never appears');
  });

  it('takes the password from .netrc, and from the URL without echoing it', async () => {
    const netrc = path.join(home, '.netrc');
    await writeFile(netrc, `machine ${peer.host}\n  login ${peer.user}\n  password ${peer.password}\n`, {
      mode: 0o600,
    });
    const noEnv = { HOME: home, FERRY_KNOWN_HOSTS: env['FERRY_KNOWN_HOSTS'] ?? '' };
    ok(await ferry(['ls', ...common, `ftpes://${peer.host}:${peer.port}/`], noEnv));
    await rm(netrc);
    const wrong = await ferry(
      ['ls', ...common, `ftpes://${peer.user}:wrong-secret@${peer.host}:${peer.port}/`],
      noEnv,
    );
    assert.equal(wrong.code, EXIT.auth, wrong.stderr);
    assert.ok(!wrong.stderr.includes('wrong-secret'));
  });

  it('exit codes: usage, connection, TLS, remote and local errors', async () => {
    assert.equal((await ferry(['ls', ...common, 'http://example.com/'], env)).code, EXIT.usage);
    assert.equal((await ferry(['ls', '--no-such-option', base], env)).code, EXIT.usage);
    assert.equal((await ferry(['ls', ...common, `ftp://${peer.host}:${peer.port}/`], env)).code, EXIT.usage);
    const port = await freePort();
    assert.equal((await ferry(['ls', ...common, `ftpes://u@127.0.0.1:${port}/`], env)).code, EXIT.connection);
    const untrusted = await ferry(['ls', '--quiet', base], env);
    assert.equal(untrusted.code, EXIT.tls);
    assert.match(untrusted.stderr, /not trusted/);
    assert.match(untrusted.stderr, /Pass --ca FILE with its CA, pin it with --fingerprint/);
    assert.doesNotMatch(untrusted.stderr, /from code/); // the library's option names: not the command's
    assert.equal(
      (await ferry(['get', ...common, `${base}/no-such-file`, path.join(home, 'nsf')], env)).code,
      EXIT.remote,
    );
    assert.ok(!existsSync(path.join(home, 'nsf')), 'no empty file left behind');
    assert.equal(
      (await ferry(['put', ...common, path.join(home, 'missing.txt'), `${base}/x.txt`], env)).code,
      EXIT.local,
    );
  });

  it('a failed download leaves the local file as it was; a file that cannot be written is a local error', async () => {
    const keep = path.join(home, 'keep.txt');
    await writeFile(keep, 'precious\n');
    const refused = await ferry(['get', ...common, `${base}/no-such-file`, keep], env);
    assert.equal(refused.code, EXIT.remote, refused.stderr);
    assert.equal(await readFile(keep, 'utf8'), 'precious\n', 'a 550 does not empty the local file');
    await peer.putFile('small.txt', 'new content\n');
    // Where the file would go is a directory (EISDIR), or lies under a regular file (ENOTDIR).
    const out = path.join(home, 'blocked');
    await mkdir(path.join(out, 'small.txt'), { recursive: true });
    for (const target of [`${out}/`, path.join(keep, 'small.txt')]) {
      const r = await ferry(['get', ...common, `${base}/small.txt`, target], env);
      assert.equal(r.code, EXIT.local, r.stderr);
      assert.match(r.stderr, /^ferry: local file: E(ISDIR|NOTDIR)/m);
      assert.doesNotMatch(r.stderr, /node:events|Unhandled/, 'a message, not a crash');
    }
    ok(await ferry(['get', ...common, `${base}/small.txt`, keep], env));
    assert.equal(await readFile(keep, 'utf8'), 'new content\n', 'a longer file replaced entirely');
  });

  it('cat into a pipe closed early (| head) ends as a local error', async () => {
    await peer.putFile('eight.bin', randomBytes(8 * 1024 * 1024));
    const child = spawn(process.execPath, [CLI, 'cat', ...common, `${base}/eight.bin`], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.once('data', () => child.stdout.destroy()); // the reader stops after its first chunk
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, EXIT.local, stderr);
    assert.match(stderr, /^ferry: local file: .*EPIPE/m);
  });

  it('get with a pattern against vsftpd (no MLSD: expanded from its LIST), --parallel 2', async () => {
    for (const n of ['r1.log', 'r2.log', 'r3.txt', '.r4.log']) await peer.putFile(`glob/${n}`, `${n}\n`);
    await mkdir(path.join(peer.root, 'glob', 'd.log'), { recursive: true });
    const out = path.join(home, 'glob-out');
    await mkdir(out);
    ok(
      await ferry(
        ['get', ...common, '--parallel', '2', `${base}/glob/r?.log`, `${base}/glob/*.txt`, out],
        env,
      ),
    );
    assert.deepEqual((await readdir(out)).sort(), ['r1.log', 'r2.log', 'r3.txt']);
    assert.equal(await readFile(path.join(out, 'r2.log'), 'utf8'), 'r2.log\n');
    const none = await ferry(['get', ...common, `${base}/glob/*.zip`, out], env);
    assert.equal(none.code, EXIT.remote);
    assert.match(none.stderr, /No remote file matches glob\/\*\.zip/);
  });

  it('certificate trust: --fingerprint pins, --insecure skips, --tofu remembers and detects a changed key', async () => {
    const fp = fingerprintOfPem(await readFile(peer.certificate.certFile, 'utf8'));
    ok(await ferry(['ls', '--quiet', '--fingerprint', fp, base], env));
    const wrongFp = `sha256:${'00:'.repeat(31)}00`;
    const mismatch = await ferry(['ls', '--quiet', '--fingerprint', wrongFp, base], env);
    assert.equal(mismatch.code, EXIT.tls);
    assert.match(mismatch.stderr, /does not match the pinned fingerprint/);
    ok(await ferry(['ls', '--quiet', '--insecure', base], env));

    const known = path.join(home, 'kh', 'known_hosts');
    const tofuEnv = { ...env, FERRY_KNOWN_HOSTS: known };
    const first = await ferry(['ls', '--tofu', base], tofuEnv);
    ok(first);
    assert.match(first.stderr, /on first use/);
    assert.ok((await readFile(known, 'utf8')).includes(`127.0.0.1:${peer.port} ${fp}`));
    ok(await ferry(['ls', '--quiet', base], tofuEnv)); // known now, without --tofu
    await writeFile(known, `127.0.0.1:${peer.port} ${wrongFp}\n`);
    const changed = await ferry(['ls', '--quiet', '--tofu', base], tofuEnv);
    assert.equal(changed.code, EXIT.tls);
    assert.match(changed.stderr, /HAS CHANGED/);
  });
});

describe('ferry CLI against ProFTPD (implicit FTPS)', { timeout: 120_000 }, () => {
  let peer: FtpsPeer;
  let home: string;

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ferry-cli-'));
    peer = await startProftpd({ implicit: true });
  });

  after(async () => {
    await peer?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('uploads, lists and downloads over ftps://, and refuses --auth on implicit', async () => {
    const env = { HOME: home, FERRY_PASSWORD: peer.password };
    const base = `ftps://${peer.user}@${peer.host}:${peer.port}`;
    const common = ['--ca', peer.certificate.certFile, '--quiet'];
    const src = path.join(home, 'f.bin');
    await randomFile(src, 1_000_000);
    const put = await ferry(['put', ...common, src, `${base}/f.bin`], env);
    assert.equal(put.code, EXIT.ok, put.stderr);
    const ls = await ferry(['ls', '-1', ...common, base], env);
    assert.equal(ls.stdout, 'f.bin\n');
    const got = path.join(home, 'g.bin');
    assert.equal((await ferry(['get', ...common, `${base}/f.bin`, got], env)).code, EXIT.ok);
    assert.equal(await sha256File(got), await sha256File(src));
    assert.equal((await ferry(['ls', ...common, '--auth', 'ssl', base], env)).code, EXIT.usage);
  });
});
