import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { fingerprintOf, generateSelfSigned } from '../../src/tls/certificates.js';
import { loadConfig } from '../../src/cli/config.js';
import { curl, expectSuccess } from '../support/clients.js';
import { FERRY_MAIN as main, ServeProcess } from '../support/ferry-process.js';
import { freePort } from '../support/ports.js';

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
    assert.match(r.banner, /TLS is required for login and data\./);
  } finally {
    assert.equal(await stop(r), 0);
  }
});

test('the banner names each way around TLS the server allows, and never claims TLS is required then', async () => {
  const root = await mkdtemp(path.join(dir, 'root-'));
  const data = path.join(dir, 'data-plain');
  const r = await serve(['--data-dir', data, '--allow-plain', '--allow-clear-data', '--allow-ccc'], root);
  try {
    assert.doesNotMatch(r.banner, /TLS is required/);
    assert.match(
      r.banner,
      /TLS is NOT required everywhere: allowed are login without TLS \(allow-plain\); data without TLS, PROT C \(allow-clear-data\); a control connection cleared by CCC after login \(allow-ccc\)\./,
    );
  } finally {
    assert.equal(await stop(r), 0);
  }
});

test('--tls-min 1.0: the banner warns that TLS 1.0/1.1 are allowed and weaken TLS 1.2 for every client', async () => {
  const root = await mkdtemp(path.join(dir, 'root-'));
  const r = await serve(['--data-dir', path.join(dir, 'data-tls10'), '--tls-min', '1.0'], root);
  try {
    assert.match(
      r.banner,
      /WARNING {3}TLS 1\.0 and up are allowed \(tls-min 1\.0\): OpenSSL's security level 0 this needs weakens TLS 1\.2 for all clients too/,
    );
  } finally {
    assert.equal(await stop(r), 0);
  }
});

test('--allow-plain without --allow-clear-data: the banner warns that plain-FTP clients cannot transfer', async () => {
  const root = await mkdtemp(path.join(dir, 'root-'));
  const r = await serve(['--data-dir', path.join(dir, 'data-plain-only'), '--allow-plain'], root);
  try {
    assert.match(r.banner, /allowed are login without TLS \(allow-plain\)\./);
    assert.match(
      r.banner,
      /WARNING {3}allow-plain without allow-clear-data: clients without TLS can log in but not list or transfer .*add --allow-clear-data/,
    );
  } finally {
    assert.equal(await stop(r), 0);
  }
  const both = await serve(
    ['--data-dir', path.join(dir, 'data-plain'), '--allow-plain', '--allow-clear-data'],
    root,
  );
  try {
    assert.doesNotMatch(both.banner, /WARNING/);
  } finally {
    assert.equal(await stop(both), 0);
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

test('a misspelt nested key is named, with the key it likely meant, even where it leaves a required key missing beside it', async () => {
  const cases: [string, RegExp][] = [
    [
      'clientCertificates:\n  cas: [ca.pem]\n',
      /clientCertificates\.cas: Unrecognized key.*did you mean ca\?/,
    ],
    [
      'certificates:\n  - { crt: a.pem, key: a.key }\n',
      /certificates\.0\.crt: Unrecognized key.*did you mean cert\?/,
    ],
    [
      'proxyProtocol:\n  trustd: [10.0.0.0/8]\n',
      /proxyProtocol\.trustd: Unrecognized key.*did you mean trusted\?/,
    ],
  ];
  for (const [yaml, named] of cases) {
    const file = path.join(dir, 'nested-typo.yaml');
    await writeFile(file, yaml);
    await assert.rejects(loadConfig(file), named, yaml);
  }
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

/** Runs `ferry serve ARGS` that should refuse to start: its exit code and stderr, or 'started' (then stopped). */
async function refused(args: string[]): Promise<{ code: number | 'started'; err: string }> {
  const child = spawn(
    process.execPath,
    [
      ...[main, 'serve', '--allow-root', '--listen', '127.0.0.1'],
      ...['--implicit-port', '0', '--explicit-port', '0', ...args],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  let started = false;
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (!started && err.includes('Ctrl-C stops')) {
      started = true;
      child.kill('SIGTERM');
    }
  });
  child.stdout.resume();
  const [code] = (await once(child, 'exit')) as [number | null];
  if (started) return { code: 'started', err };
  if (code === null) throw new Error(`ferry serve was killed: ${err}`);
  return { code, err };
}

test('a --root that does not exist, or is a file, is refused at start naming the flag', async () => {
  const missing = path.join(dir, 'no-such-dir');
  const a = await refused(['--root', missing, '--implicit-port', String(await freePort())]);
  assert.equal(a.code, 2, a.err);
  assert.match(a.err, /--root/);
  assert.ok(a.err.includes(missing), a.err);
  assert.match(a.err, /does not exist/);
  assert.doesNotMatch(a.err, /Ctrl-C stops/);

  const file = path.join(dir, 'a-file');
  await writeFile(file, 'x');
  const b = await refused(['--root', file, '--implicit-port', String(await freePort())]);
  assert.equal(b.code, 2, b.err);
  assert.match(b.err, /--root: .*not a directory/);
});

test('a config whose root or user home does not exist is refused naming the file and key', async () => {
  const hash = await hashOf('pw');
  const file = path.join(dir, 'homes.yaml');
  await writeFile(file, `root: ./missing-root\nimplicitPort: ${await freePort()}\n`);
  const a = await refused(['--config', file]);
  assert.equal(a.code, 2, a.err);
  assert.ok(a.err.includes(`${file}: root:`), a.err);

  await writeFile(
    file,
    `implicitPort: ${await freePort()}\nusers:\n  - { name: alice, passwordHash: "${hash}", home: ./nowhere }\n`,
  );
  const b = await refused(['--config', file]);
  assert.equal(b.code, 2, b.err);
  assert.ok(b.err.includes(`${file}: users.0.home:`), b.err);
  assert.ok(b.err.includes(path.join(dir, 'nowhere')), b.err);
});

test('defender.ipv6PrefixLength outside 32..128 is refused at start naming the key (0 would put every IPv6 client in one group)', async () => {
  const file = path.join(dir, 'prefix.yaml');
  const config = (bits: number): string =>
    `root: ${dir}\ndataDir: ${path.join(dir, 'prefix-data')}\ndefender:\n  ipv6PrefixLength: ${bits}\n`;
  for (const bits of [0, 31, 129]) {
    await writeFile(file, config(bits));
    const r = await refused(['--config', file, '--implicit-port', String(await freePort())]);
    assert.equal(r.code, 2, r.err);
    assert.ok(r.err.includes(`${file}: defender.ipv6PrefixLength: from 32 to 128`), r.err);
  }
  for (const bits of [32, 128]) {
    await writeFile(file, config(bits));
    const r = await refused(['--config', file, '--implicit-port', String(await freePort())]);
    assert.equal(r.code, 'started', r.err);
  }
});

test('with --config, the banner shows where each user lives, not the current directory', async () => {
  const hash = await hashOf('pw');
  const alice = await mkdtemp(path.join(dir, 'alice-'));
  const bob = await mkdtemp(path.join(dir, 'bob-'));
  const cwd = await mkdtemp(path.join(dir, 'cwd-'));
  const file = path.join(dir, 'users.yaml');
  await writeFile(
    file,
    [
      `dataDir: ${path.join(dir, 'data')}`,
      'users:',
      `  - { name: alice, passwordHash: "${hash}", home: ${alice} }`,
      `  - { name: bob, passwordHash: "${hash}", home: ${bob}, readOnly: true }`,
      '',
    ].join('\n'),
  );
  const r = await serve(['--config', file], cwd);
  try {
    assert.ok(!r.banner.includes(cwd), r.banner);
    assert.match(r.banner, new RegExp(`${escape(alice)}\\s+\\(alice\\)`));
    assert.match(r.banner, new RegExp(`${escape(bob)}\\s+\\(bob, read-only\\)`));
  } finally {
    assert.equal(await stop(r), 0);
  }
});

test('server and client take the same --tls-min values (1.3 and TLSv1.3); a bad one names the flag or key', async () => {
  const root = await mkdtemp(path.join(dir, 'root-'));
  await writeFile(path.join(root, 'f.txt'), 'x');
  for (const [serverValue, clientValue] of [
    ['1.3', 'TLSv1.3'],
    ['TLSv1.3', '1.3'],
  ] as const) {
    const r = await serve(
      ['--user', 'u:pw', '--tls-min', serverValue, '--data-dir', path.join(dir, 'data')],
      root,
    );
    try {
      // A TLS 1.2 client is refused: the minimum really is 1.3.
      const old = tls.connect({
        host: '127.0.0.1',
        port: r.implicitPort,
        rejectUnauthorized: false,
        maxVersion: 'TLSv1.2',
      });
      const outcome = await new Promise<unknown>((resolve) => {
        old.once('secureConnect', () => resolve('connected'));
        old.once('error', resolve);
      });
      old.destroy();
      assert.ok(outcome instanceof Error, `a TLS 1.2 client was accepted with --tls-min ${serverValue}`);
      const ls = await run([
        'ls',
        '--insecure',
        '--tls-min',
        clientValue,
        `ftps://u:pw@127.0.0.1:${r.implicitPort}/`,
      ]);
      assert.equal(ls.code, 0, ls.err);
      assert.match(ls.out, /f\.txt/);
    } finally {
      assert.equal(await stop(r), 0);
    }
  }

  const flag = await refused(['--tls-min', '1.4']);
  assert.equal(flag.code, 2, flag.err);
  assert.match(flag.err, /--tls-min/);
  assert.match(flag.err, /1\.2/);
  assert.doesNotMatch(flag.err, /options\./);

  const file = path.join(dir, 'tls.yaml');
  await writeFile(file, 'tlsMinVersion: SSLv3\n');
  const key = await refused(['--config', file]);
  assert.equal(key.code, 2, key.err);
  assert.ok(key.err.includes(`${file}: tlsMinVersion:`), key.err);

  const client = await run(['ls', '--tls-min', '1.4', 'ftps://u:pw@127.0.0.1:1/']);
  assert.equal(client.code, 2, client.err);
  assert.match(client.err, /--tls-min/);
});

test('server option errors name the flag or config key, never an internal option name', async () => {
  const both = await refused([]);
  assert.equal(both.code, 2, both.err);
  assert.match(both.err, /--explicit-port/);
  assert.doesNotMatch(both.err, /options\./);

  const file = path.join(dir, 'listen.yaml');
  await writeFile(file, `implicitPort: 0\nexplicitPort: 0\n`);
  const cfg = await refused(['--config', file, '--explicit-port', '0']);
  assert.equal(cfg.code, 2, cfg.err);
  assert.doesNotMatch(cfg.err, /options\./);
});

async function hashOf(password: string): Promise<string> {
  const child = spawn(process.execPath, [main, 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(password);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'exit');
  return out.trim();
}

async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out, err };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('--legacy-encoding and legacyEncoding take the listed sets; another is refused naming the flag or key', async () => {
  const ok = await refused([
    ...['--legacy-encoding', 'cp1252', '--root', dir, '--data-dir', path.join(dir, 'data-legacy')],
    ...['--implicit-port', String(await freePort())],
  ]);
  assert.equal(ok.code, 'started', ok.err);
  const flag = await refused(['--legacy-encoding', 'ebcdic']);
  assert.equal(flag.code, 2, flag.err);
  assert.match(flag.err, /--legacy-encoding: expected one of cp1252, latin1, .* got "ebcdic"/);
  const file = path.join(dir, 'legacy.yaml');
  await writeFile(file, 'legacyEncoding: ebcdic\n');
  const key = await refused(['--config', file]);
  assert.equal(key.code, 2, key.err);
  assert.ok(key.err.includes(`${file}: legacyEncoding:`), key.err);
});
