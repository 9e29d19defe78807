/**
 * Anonymous FTP with real clients against `ferry serve`: curl without -u (it logs in as anonymous,
 * password ftp@example.com) over explicit FTPS with --ssl-reqd, Python ftplib's FTP_TLS().login();
 * a read-only public root with an upload-only /incoming (config `anonymous:`), the ftp alias, the
 * password never in the log nor the xferlog, reload turning it off (530 as for anyone unknown),
 * `--anonymous DIR`, and the config conflicts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { CLIENT_BINARIES, ftplib, runProcess, type FtpsTarget } from '../support/clients.js';
import { ferryUsers, runFerry, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';

/** A password a user might type by mistake instead of an e-mail address: never to be written. */
const TYPED = 'Hunter2-typed-by-mistake';
const CURL_PASSWORD = 'ftp@example.com';

/** curl with no --user: its anonymous login, explicit FTPS required. */
function anonymousCurl(port: number, remote: string, extra: readonly string[] = []) {
  const url = `ftp://127.0.0.1:${port}${remote}`;
  const args = ['--silent', '--show-error', '--insecure', '--ssl-reqd', '--connect-timeout', '15'];
  return runProcess(CLIENT_BINARIES.curl, [...args, ...extra, url]);
}

const explicit = (port: number, user = 'anonymous', password = 'x'): FtpsTarget => ({
  host: '127.0.0.1',
  port,
  user,
  password,
  implicit: false,
});

const CONFIG = [
  'anonymous:',
  '  home: pub',
  '  readOnly: true',
  '  hideDotFiles: true',
  '  permissions:',
  '    /incoming: upload',
  'xferlog: xfer.log',
  '',
].join('\n');

describe('anonymous FTP with curl and Python ftplib', { timeout: 180_000 }, () => {
  let dir: string;
  let pub: string;
  let config: string;
  let server: ServeProcess;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-anon-'));
    pub = path.join(dir, 'pub');
    await mkdir(path.join(pub, 'incoming'), { recursive: true });
    await writeFile(path.join(pub, 'readme.txt'), 'public file\n');
    await writeFile(path.join(pub, '.secret'), 'dot-file\n');
    config = path.join(dir, 'ferry.yaml');
    await writeFile(config, CONFIG);
    const args = ['--config', config, '--data-dir', path.join(dir, 'data'), '--log-level', 'debug'];
    server = await ServeProcess.start([...args, '--workers', '2', '--user', 'alice:secret'], dir);
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('curl with no -u downloads a file and lists the root over explicit FTPS (--ssl-reqd)', async () => {
    const got = await anonymousCurl(server.explicitPort, '/readme.txt');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'public file\n');
    const listed = await anonymousCurl(server.explicitPort, '/');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /readme\.txt/);
    assert.match(listed.stdout, /incoming/);
    assert.doesNotMatch(listed.stdout, /\.secret/, 'hideDotFiles: dot-files left out');
    const login = await server.waitForLog((l) => l.msg === 'anonymous login', 'the anonymous login line');
    assert.equal(login['user'], 'anonymous');
    assert.equal(login['as'], 'anonymous');
  });

  it("ftplib's FTP_TLS().login() lists; the root is read-only: STOR gets 553, DELE and MKD 550", async () => {
    const local = path.join(dir, 'up.txt');
    await writeFile(local, 'upload\n');
    const run = await ftplib(
      explicit(server.explicitPort),
      [
        { op: 'login', anonymous: true },
        { op: 'nlst' },
        { op: 'upload', local, remote: '/up.txt' },
        { op: 'delete', path: '/readme.txt' },
        { op: 'mkd', path: '/new' },
        { op: 'download', remote: '/../../../../etc/hostname', local: path.join(dir, 'escaped') },
      ],
      { continueOnError: true },
    );
    const [login, nlst, stor, dele, mkd, escape] = run.results;
    assert.equal(login?.ok, true, JSON.stringify(run.results));
    assert.deepEqual([...(nlst?.lines ?? [])].sort(), ['incoming', 'readme.txt']);
    assert.equal(stor?.code, '553', JSON.stringify(stor)); // RFC 959 gives STOR no 550
    for (const r of [dele, mkd]) assert.equal(r?.code, '550', JSON.stringify(r));
    assert.equal(escape?.ok, false, 'a path above the anonymous root stays inside it');
    assert.equal(escape?.code, '550');
  });

  it('/incoming is upload-only: STOR allowed, LIST and RETR there refused; the ftp alias logs in', async () => {
    const local = path.join(dir, 'drop.txt');
    await writeFile(local, 'dropped\n');
    const run = await ftplib(
      explicit(server.explicitPort, 'FTP', TYPED),
      [
        { op: 'login' },
        { op: 'upload', local, remote: '/incoming/drop.txt' },
        { op: 'list', path: '/incoming' },
        { op: 'download', remote: '/incoming/drop.txt', local: path.join(dir, 'back.txt') },
      ],
      { continueOnError: true },
    );
    const [login, stor, list, retr] = run.results;
    assert.equal(login?.ok, true, JSON.stringify(run.results));
    assert.equal(stor?.ok, true, JSON.stringify(stor));
    assert.equal(await readFile(path.join(pub, 'incoming', 'drop.txt'), 'utf8'), 'dropped\n');
    assert.equal(list?.code, '550', JSON.stringify(list));
    assert.equal(retr?.code, '550', JSON.stringify(retr));
    const login2 = await server.waitForLog((l) => l['as'] === 'FTP', 'the login as FTP');
    assert.equal(login2.msg, 'anonymous login');
  });

  it('the password is in neither the log nor the xferlog (access mode a, user *); no failed login', async () => {
    const all = server.lines.join('\n');
    for (const secret of [TYPED, CURL_PASSWORD, 'anonymous@'])
      assert.ok(!all.includes(secret), `"${secret}" in the log`);
    assert.ok(all.includes('PASS ****'), 'the PASS commands were logged (masked) at debug');
    assert.equal(server.log.filter((l) => l.msg === 'login failed').length, 0);
    const xferlog = await readFile(path.join(dir, 'xfer.log'), 'utf8');
    for (const secret of [TYPED, CURL_PASSWORD, 'anonymous@'])
      assert.ok(!xferlog.includes(secret), `"${secret}" in the xferlog`);
    assert.match(xferlog, / \/readme\.txt b _ o a \* ftp 0 \* c$/m);
    assert.match(xferlog, / \/incoming\/drop\.txt b _ i a \* ftp 0 \* c$/m);
  });

  it('a login before AUTH TLS gets the same 530 as any user (TLS policy unchanged)', async () => {
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.explicitPort, implicit: false });
    try {
      await ftp.expect(220);
      await ftp.cmd('USER anonymous', 530);
    } finally {
      await ftp.close();
    }
  });

  it('reload without the anonymous: block turns it off: 530, as for an unknown user', async () => {
    await writeFile(config, 'xferlog: xfer.log\n');
    const from = server.log.length;
    server.child.kill('SIGHUP');
    await server.waitForLog(
      (l) => server.log.indexOf(l) >= from && l.msg === 'configuration reloaded',
      'the reload',
    );
    const got = await anonymousCurl(server.explicitPort, '/readme.txt', ['-v']);
    assert.notEqual(got.code, 0);
    assert.match(got.stderr, /< 530 /);
    const run = await ftplib(explicit(server.explicitPort), [{ op: 'login', anonymous: true }]);
    assert.equal(run.results[0]?.code, '530');
    const unknown = await ftplib(explicit(server.explicitPort, 'nobody-here'), [{ op: 'login' }]);
    assert.equal(unknown.results[0]?.error, run.results[0]?.error, 'the same reply as an unknown user');
  });
});

describe('ferry serve --anonymous DIR, and the conflicts', { timeout: 120_000 }, () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-anon-flag-'));
    await mkdir(path.join(dir, 'pub'));
    await writeFile(path.join(dir, 'pub', 'file.txt'), 'via the flag\n');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--anonymous DIR serves DIR read-only to curl with no -u', async () => {
    const server = await ServeProcess.start(
      ['--workers', '1', '--data-dir', path.join(dir, 'data'), '--anonymous', path.join(dir, 'pub')],
      dir,
    );
    try {
      assert.match(server.banner, /anonymous FTP, read-only/);
      const got = await anonymousCurl(server.explicitPort, '/file.txt');
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, 'via the flag\n');
      const local = path.join(dir, 'up.txt');
      await writeFile(local, 'x');
      const up = await anonymousCurl(server.explicitPort, '/up.txt', ['--upload-file', local, '-v']);
      assert.match(up.stderr, /< 553 /); // RFC 959 gives STOR no 550
    } finally {
      await server.stop();
    }
  });

  it('anonymous sessions count in maxSessions; a refusal is no failed login (not scored)', async () => {
    const file = path.join(dir, 'limited.yaml');
    await writeFile(file, 'anonymous:\n  home: pub\n  maxSessions: 2\n');
    const server = await ServeProcess.start(
      ['--workers', '1', '--data-dir', path.join(dir, 'data'), '--config', file],
      dir,
    );
    const open: RawFtp[] = [];
    try {
      for (const user of ['anonymous', 'ftp', 'FTP']) {
        const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
        open.push(ftp);
        await ftp.expect(220);
        await ftp.cmd(`USER ${user}`, 331);
        await ftp.cmd(`PASS ${TYPED}`, open.length <= 2 ? 230 : 421);
      }
      const refused = await server.waitForLog((l) => l.msg === 'anonymous login refused', 'the refusal');
      assert.match(String(refused['reason']), /too many sessions/);
      assert.equal(server.log.filter((l) => l.msg === 'login failed').length, 0);
      assert.ok(!server.lines.join('\n').includes(TYPED));
    } finally {
      for (const ftp of open) await ftp.close();
      await server.stop();
    }
  });

  it('a config user named ftp beside anonymous: is refused at start, saying why', async () => {
    const file = path.join(dir, 'conflict.yaml');
    const hash = (await runFerry(['hash-password'], 'pw\n')).stdout.trim();
    await writeFile(
      file,
      `anonymous:\n  home: pub\nusers:\n  - name: ftp\n    passwordHash: "${hash}"\n    home: pub\n`,
    );
    const r = await runFerry(['serve', '--config', file, '--allow-root']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /users\.0\.name: "ftp" is a login name of anonymous FTP/);
  });

  it('ferry users add anonymous is refused while the config enables anonymous FTP', async () => {
    const file = path.join(dir, 'on.yaml');
    await writeFile(file, 'anonymous:\n  home: pub\n');
    const r = await ferryUsers(
      path.join(dir, 'data'),
      ['add', 'Anonymous', '--home', path.join(dir, 'pub'), '--config', file, '--password-stdin'],
      'pw\n',
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /"Anonymous" is a login name of anonymous FTP .* could never log in/);
  });
});
