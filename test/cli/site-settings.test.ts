/**
 * Site settings an administrator moving from vsftpd or ProFTPD sets in ferry.yaml: the greeting
 * (ftpd_banner), the mask of new files' modes (local_umask), the TLS cipher list (ssl_ciphers),
 * the data connection timeouts (data_connection_timeout, accept_timeout), the grace of running
 * transfers at SIGTERM (stopGraceSeconds), names denied to everyone and to one account (deny_file),
 * dot-files left out of LIST/NLST without -a (force_dot_files=NO); bad values are refused at start,
 * naming the key.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { runFerry, ServeProcess, serveArgv } from '../support/ferry-process.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
let home: string;
let server: ServeProcess;

const CIPHER_12 = 'ECDHE-RSA-AES128-GCM-SHA256';

describe('site settings in ferry.yaml', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-site-'));
    home = path.join(dir, 'home');
    await mkdir(home);
    const config = path.join(dir, 'ferry.yaml');
    await writeFile(
      config,
      [
        'listen: 127.0.0.1',
        'greeting: Welcome to the ACME file service.',
        'umask: "027"',
        `tlsCiphers: ${CIPHER_12}:TLS_AES_128_GCM_SHA256`,
        'dataConnectTimeoutSeconds: 1',
        'denyFiles: ["*.exe", ".ht*"]',
        'denyFilesIgnoreCase: true',
        'hideDotFiles: true',
        'users:',
        `  - { name: ann, passwordHash: "${await testHash('ann-pw')}", home: ${home}, denyFiles: ["*.bak"] }`,
        '',
      ].join('\n'),
    );
    server = await ServeProcess.start(
      ['--config', config, '--workers', '1', '--data-dir', path.join(dir, 'data')],
      dir,
    );
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function login(): Promise<{ ftp: RawFtp; greeting: string }> {
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
    const greeting = textOf(await ftp.expect(220));
    await ftp.login('ann', 'ann-pw');
    await ftp.cmd('TYPE I', 200);
    return { ftp, greeting };
  }

  test('the greeting is the configured text; uploads and new directories take the umask', async () => {
    const { ftp, greeting } = await login();
    try {
      assert.equal(greeting, 'Welcome to the ACME file service.');
      await ftp.store('new.txt', Buffer.from('hello'));
      await ftp.cmd('MKD sub', 257);
      assert.equal((await stat(path.join(home, 'new.txt'))).mode & 0o777, 0o640);
      assert.equal((await stat(path.join(home, 'sub'))).mode & 0o777, 0o750);
    } finally {
      await ftp.close();
    }
  });

  test("denyFiles, the server's and the account's, refuse those names whatever their case", async () => {
    for (const name of ['tool.EXE', '.htaccess', 'old.bak', 'ok.txt'])
      await writeFile(path.join(home, name), 'x');
    const { ftp } = await login();
    try {
      for (const name of ['tool.EXE', '.htaccess', 'old.bak']) await ftp.cmd(`SIZE ${name}`, 550);
      await ftp.cmd('SIZE ok.txt', 213);
      await ftp.cmd('MKD bin.exe', 550); // RFC 959: MKD sends 550 only
    } finally {
      await ftp.close();
    }
  });

  test('hideDotFiles leaves dot-files out of NLST unless asked with -a', async () => {
    await writeFile(path.join(home, '.profile'), 'x');
    const { ftp } = await login();
    try {
      assert.doesNotMatch(await ftp.listing('NLST'), /\.profile/);
      assert.match(await ftp.listing('NLST', '-a'), /\.profile/);
    } finally {
      await ftp.close();
    }
  });

  test('TLS 1.2 offers only the configured cipher; a client without it is refused', async () => {
    const hello = (ciphers: string): Promise<string> =>
      new Promise((resolve) => {
        const s = tls.connect({
          host: '127.0.0.1',
          port: server.implicitPort,
          rejectUnauthorized: false,
          maxVersion: 'TLSv1.2',
          ciphers,
        });
        s.once('secureConnect', () => {
          resolve(s.getCipher().standardName);
          s.destroy();
        });
        s.once('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code ?? err.message}`));
      });
    assert.equal(
      await hello(`ECDHE-RSA-AES256-GCM-SHA384:${CIPHER_12}`),
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    );
    assert.match(await hello('ECDHE-RSA-AES256-GCM-SHA384'), /^refused: /);
  });

  test('a passive port not connected within dataConnectTimeoutSeconds gives up with 425', async () => {
    const { ftp } = await login();
    try {
      await ftp.cmd('EPSV', 229);
      // The 150 comes at once (as vsftpd's); the connection is then awaited, a second at most.
      await ftp.cmd('LIST', 150);
      await ftp.expect(425);
    } finally {
      await ftp.close();
    }
  });

  test('a bad value is refused at start, naming the key', async () => {
    for (const [line, want] of [
      ['umask: "8"', /umask: expected an octal mask like "022", got "8"/],
      ['tlsCiphers: NOT-A-CIPHER', /tlsCiphers .*no cipher OpenSSL knows in "NOT-A-CIPHER"/],
      ['greeting: "two\\r\\n230 lines"', /greeting .*one line of text, no control characters/],
      ['denyFiles: "*.exe"', /denyFiles/],
    ] as const) {
      const config = path.join(dir, 'bad.yaml');
      await writeFile(config, `${line}\n`);
      const { argv } = await serveArgv();
      const r = await runFerry([...argv.slice(1), '--config', config, '--data-dir', path.join(dir, 'data2')]);
      assert.notEqual(r.code, 0, line);
      assert.match(r.stderr, want, line);
    }
  });
});

describe('stopGraceSeconds in ferry.yaml', { timeout: 120_000 }, () => {
  test('at SIGTERM a running upload gets stopGraceSeconds, not the default 10 s, then is cut', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-grace-'));
    let server: ServeProcess | undefined;
    try {
      const home = path.join(dir, 'home');
      await mkdir(home);
      const config = path.join(dir, 'ferry.yaml');
      await writeFile(
        config,
        [
          'stopGraceSeconds: 2',
          'users:',
          `  - { name: ann, passwordHash: "${await testHash('ann-pw')}", home: ${home} }`,
          '',
        ].join('\n'),
      );
      server = await ServeProcess.start(
        ['--config', config, '--workers', '1', '--data-dir', path.join(dir, 'data')],
        dir,
      );
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
      try {
        await ftp.expect(220);
        await ftp.login('ann', 'ann-pw');
        await ftp.cmd('TYPE I', 200);
        const conn = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd('STOR slow.bin', 150);
        conn.stream.resume();
        conn.stream.write(Buffer.alloc(1024)); // and never finished
        const exited = once(server.child, 'exit');
        const signalled = Date.now();
        server.child.kill('SIGTERM');
        const stopping = await server.waitForLog((l) => l.msg === 'shutting down', 'shutting down');
        assert.equal(stopping.graceSeconds, 2);
        await ftp.expect(426); // the upload, cut once its grace is over
        await ftp.expect(421);
        await ftp.close();
        await exited;
        const took = Date.now() - signalled;
        assert.ok(took >= 1_900 && took < 9_000, `exited ${took} ms after SIGTERM`);
      } finally {
        await ftp.close();
      }
    } finally {
      await server?.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
