import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { fingerprintOf, generateSelfSigned } from '../../src/tls/certificates.js';
import { curl, expectSuccess } from '../support/clients.js';
import { FERRY_MAIN as main, ServeProcess } from './serve-process.js';

/** Starts `ferry serve` and waits for its banner. */
function serve(args: string[], cwd: string): Promise<ServeProcess> {
  return ServeProcess.start(args, cwd);
}

function stop(r: ServeProcess): Promise<number | null> {
  return r.stop();
}

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('ferry serve with no config serves the cwd, generates a certificate and a login, and prints them', async () => {
  const root = await mkdtemp(path.join(dir, 'root-'));
  await writeFile(path.join(root, 'hello.txt'), 'hello from ferry\n');
  const r = await serve(['--data-dir', path.join(dir, 'data')], root);
  try {
    const login = /login\s+user (\S+)\s+password (\S+)/.exec(r.banner);
    assert.ok(login, r.banner);
    const fp = /SHA-256 ([0-9A-F:]{95})/.exec(r.banner);
    assert.ok(fp, r.banner);
    const cert = await readFile(path.join(dir, 'data', 'self-signed.crt'), 'utf8');
    assert.equal(fp[1], fingerprintOf(cert));
    const target = { host: '127.0.0.1', user: login[1] ?? '', password: login[2] ?? '' };
    const got = expectSuccess(
      await curl({ ...target, port: r.implicitPort, implicit: true }, [
        'ftps://127.0.0.1:' + r.implicitPort + '/hello.txt',
      ]),
    );
    assert.equal(got.stdout, 'hello from ferry\n');
    const listed = expectSuccess(
      await curl({ ...target, port: r.explicitPort, implicit: false }, [
        '--ssl-reqd',
        '-l',
        `ftp://127.0.0.1:${r.explicitPort}/`,
      ]),
    );
    assert.match(listed.stdout, /hello\.txt/);
    assert.doesNotMatch(r.banner + listed.stderr, /PASS [^*]/);
  } finally {
    assert.equal(await stop(r), 0);
  }
});

test('SIGHUP reloads the certificate files; a session opened before keeps working', async () => {
  const root = await mkdtemp(path.join(dir, 'root-'));
  const certFile = path.join(dir, 'reload.crt');
  const keyFile = path.join(dir, 'reload.key');
  const first = await generateSelfSigned('localhost');
  const second = await generateSelfSigned('localhost');
  await writeFile(certFile, first.cert);
  await writeFile(keyFile, first.key);
  const r = await serve(['--user', 'bob:pw', '--cert', certFile, '--key', keyFile], root);
  const peerFingerprint = async (): Promise<string> => {
    const s = tls.connect({ host: '127.0.0.1', port: r.implicitPort, rejectUnauthorized: false });
    await once(s, 'secureConnect');
    const fp = s.getPeerCertificate().fingerprint256;
    s.destroy();
    return fp;
  };
  try {
    assert.equal(await peerFingerprint(), fingerprintOf(first.cert));
    const early = tls.connect({ host: '127.0.0.1', port: r.implicitPort, rejectUnauthorized: false });
    await once(early, 'secureConnect');
    await once(early, 'data'); // greeting
    await writeFile(certFile, second.cert);
    await writeFile(keyFile, second.key);
    r.child.kill('SIGHUP');
    // The reload is asynchronous: poll new handshakes (bounded), never sleep.
    let fp = '';
    for (let i = 0; i < 200 && fp !== fingerprintOf(second.cert); i++) fp = await peerFingerprint();
    assert.equal(fp, fingerprintOf(second.cert));
    early.write('NOOP\r\n');
    const [noop] = (await once(early, 'data')) as [Buffer];
    assert.match(noop.toString(), /^200 /);
    early.destroy();
  } finally {
    assert.equal(await stop(r), 0);
  }
});

test('a bad config file is refused at start with the key named', async () => {
  const file = path.join(dir, 'bad.yaml');
  await writeFile(
    file,
    'implicitPort: 990\nusers:\n  - name: alice\n    passwordHash: plaintext\n    home: /tmp\n',
  );
  const child = spawn(process.execPath, [main, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 2);
  assert.match(err, /users\.0\.passwordHash/);
  assert.match(err, /hash-password/);
});

test('an unknown config key is refused with the list of known keys', async () => {
  const file = path.join(dir, 'typo.yaml');
  await writeFile(file, 'implictPort: 990\n');
  const child = spawn(process.execPath, [main, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 2);
  assert.match(err, /implictPort/);
  assert.match(err, /implicitPort/);
});

test('hash-password prints a scrypt hash that the config accepts', async () => {
  const child = spawn(process.execPath, [main, 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end('correct horse\n');
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
  assert.match(out.trim(), /^scrypt\$16384\$8\$1\$/);
  assert.doesNotMatch(out, /correct horse/);
});
