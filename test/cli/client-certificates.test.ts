/**
 * Client-certificate login end to end (issue 9): `ferry serve --workers 2 --client-ca`, accounts
 * from `ferry users add/set --client-cert/--cert-login`, and real clients presenting certificates:
 * curl (--cert/--key), Python ftplib (load_cert_chain) and Ferry's own client (ferry ls --cert).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { certDir, issuedBy, selfSignedClient, testCa, type TestCert } from '../support/client-certs.js';
import {
  curlDownload,
  expectFtplibOk,
  ftplib,
  runProcess,
  type ClientResult,
  type FtpsTarget,
} from '../support/clients.js';
import { FERRY_MAIN, ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { changeUsers } from '../support/users-cli.js';
import { MODES, type Mode } from '../e2e/harness.js';

const WORKERS = 2;

let server: ServeProcess;
let files: Awaited<ReturnType<typeof certDir>>;
let dir: string;
/** The server's data directory (its users file). */
let data: string;
let home: string;
const certs: Record<'ca' | 'laptop' | 'phone' | 'carol', TestCert> = {} as never;

const change = (args: string[], input?: string): Promise<string> =>
  changeUsers(server, WORKERS, data, args, input);

function target(mode: Mode, user: string, password = ''): FtpsTarget {
  const implicit = mode === 'implicit';
  return {
    host: '127.0.0.1',
    port: implicit ? server.implicitPort : server.explicitPort,
    user,
    password,
    implicit,
  };
}

/** curl downloads hello.txt as `user`, presenting `cert` (if any), from loopback address `from`. */
async function curlGet(
  mode: Mode,
  user: string,
  cert?: keyof typeof certs,
  password = '',
  from = '127.0.0.1',
): Promise<ClientResult> {
  const out = path.join(dir, `out-${mode}-${user}-${cert ?? 'none'}.txt`);
  const args = cert ? ['--cert', files.path(`${cert}.crt`), '--key', files.path(`${cert}.key`)] : [];
  return curlDownload(target(mode, user, password), '/hello.txt', out, [...args, '--interface', from]);
}

/** `ferry ls` as `user` with `--cert/--key` of `cert`. */
function ferryLs(mode: Mode, user: string, cert: keyof typeof certs): Promise<ClientResult> {
  const t = target(mode, user);
  const url = `${mode === 'implicit' ? 'ftps' : 'ftpes'}://${user}@127.0.0.1:${t.port}/`;
  return runProcess(process.execPath, [
    FERRY_MAIN,
    'ls',
    url,
    '--insecure',
    '--cert',
    files.path(`${cert}.crt`),
    '--key',
    files.path(`${cert}.key`),
  ]);
}

describe('client certificates with ferry serve --workers 2', { timeout: 300_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-client-certs-cli-'));
    data = path.join(dir, 'data');
    home = path.join(dir, 'home');
    await mkdir(home);
    await writeFile(path.join(home, 'hello.txt'), 'hello\n');
    certs.ca = await testCa('Ferry CLI test CA');
    certs.laptop = await selfSignedClient('laptop');
    certs.phone = await selfSignedClient('phone');
    certs.carol = await issuedBy(certs.ca, 'carol');
    const pem: Record<string, string> = { 'ca.pem': certs.ca.cert };
    for (const [name, c] of Object.entries(certs)) {
      pem[`${name}.crt`] = c.cert;
      pem[`${name}.key`] = c.key;
    }
    files = await certDir(pem);
    server = await ServeProcess.start(
      [
        ...['--workers', String(WORKERS), '--data-dir', data, '--user', 'admin:admin-pw', '--root', dir],
        ...['--client-ca', files.path('ca.pem')],
      ],
      dir,
    );
  });
  after(async () => {
    await server?.stop();
    await files?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('a pinned certificate logs in with curl and ferry ls (no password); a changed pin applies at once', async () => {
    const added = await change([
      'add',
      'bob',
      '--home',
      home,
      '--client-cert',
      certs.laptop.fingerprint.replace(/:/g, '').toLowerCase(),
      '--cert-login',
      'cert-only',
    ]);
    assert.doesNotMatch(added, /password for bob/, 'a cert-only user gets no password to see');
    const shown = await ferryUsers(data, ['show', 'bob']);
    assert.match(shown.stdout, new RegExp(`client certs +${certs.laptop.fingerprint}`));
    assert.match(shown.stdout, /cert login +cert-only/);

    const certificateLogins = () =>
      server.log.filter((l) => l.msg === 'login' && l.user === 'bob' && l.by === 'certificate');
    /** Workers that logged bob in by certificate, from log line `from` on. */
    const workersSince = (from: number) =>
      new Set(
        certificateLogins()
          .slice(from)
          .map((l) => l.pid),
      );
    for (const mode of MODES) {
      // Sessions one after another go to the first worker: one held open meanwhile sends the next
      // login to another (a few tries: the primary learns of a closed session a moment later).
      const before = certificateLogins().length;
      for (let i = 0; i < 8 && workersSince(before).size < WORKERS; i++) {
        const held = await RawFtp.connect({ host: '127.0.0.1', port: server.explicitPort, implicit: false });
        try {
          await held.expect(220);
          const ok = await curlGet(mode, 'bob', 'laptop');
          assert.equal(ok.code, 0, `${mode} curl with the pinned certificate: ${ok.stderr}`);
        } finally {
          await held.close();
        }
        const ok = await curlGet(mode, 'bob', 'laptop');
        assert.equal(ok.code, 0, `${mode} curl with the pinned certificate: ${ok.stderr}`);
      }
      const none = await curlGet(mode, 'bob');
      assert.equal(none.code, 67, `${mode} curl without a certificate: login denied (${none.stderr})`);
      assert.equal((await curlGet(mode, 'bob', 'phone')).code, 67, `${mode} curl with another certificate`);
      const ls = await ferryLs(mode, 'bob', 'laptop');
      assert.equal(ls.code, 0, `${mode} ferry ls: ${ls.stderr}`);
      assert.match(ls.stdout, /hello\.txt/);
    }
    assert.equal(workersSince(0).size, WORKERS, 'certificate logins on every worker');

    await change(['set', 'bob', '--client-cert', certs.phone.fingerprint]);
    for (const mode of MODES) {
      assert.equal((await curlGet(mode, 'bob', 'laptop')).code, 67, `${mode}: the old pin no longer works`);
      assert.equal((await curlGet(mode, 'bob', 'phone')).code, 0, `${mode}: the new pin works`);
    }
  });

  test('a CA-issued certificate (CN = user) with Python ftplib; cert-and-password with curl', async () => {
    await change(
      ['add', 'carol', '--home', home, '--cert-login', 'cert-or-password', '--password-stdin'],
      'pw-carol\n',
    );
    await change(
      ['add', 'dave', '--home', home, '--client-cert', certs.laptop.fingerprint, '--password-stdin'],
      'pw-dave\n',
    );
    for (const mode of MODES) {
      const run = expectFtplibOk(
        await ftplib(target(mode, 'carol', 'not-needed'), [{ op: 'login' }, { op: 'nlst' }], {
          clientCertificate: { certFile: files.path('carol.crt'), keyFile: files.path('carol.key') },
        }),
        `${mode} ftplib with carol's certificate`,
      );
      assert.match(String(run.results[0]?.reply), /^232 /);
      assert.deepEqual(run.results[1]?.lines, ['hello.txt']);
      // cert-or-password: the password alone still works.
      expectFtplibOk(
        await ftplib(target(mode, 'carol', 'pw-carol'), [{ op: 'login' }]),
        `${mode} carol by password`,
      );
      // dave: the pinned certificate AND the password. From 127.0.0.2: a worker logs 5 failed logins
      // a minute per address, and the first test's refusals from 127.0.0.1 may have used them up.
      const dave = (cert: 'laptop' | undefined, pw: string) => curlGet(mode, 'dave', cert, pw, '127.0.0.2');
      assert.equal((await dave('laptop', 'pw-dave')).code, 0, `${mode} dave with both`);
      assert.equal((await dave(undefined, 'pw-dave')).code, 67, `${mode} dave without cert`);
      assert.equal((await dave('laptop', 'wrong')).code, 67, `${mode} dave wrong password`);
    }
    const refusal = await server.waitForLog(
      (l) =>
        l.msg === 'login failed' && l.user === 'dave' && /certificate is required/.test(String(l.reason)),
      'the reason dave was refused without a certificate',
    );
    assert.match(String(refusal.reason), /no client certificate presented/);
  });
});
