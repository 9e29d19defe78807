import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { CertificateStore, fingerprintOf, generateSelfSigned, type TlsPolicy } from './certificates.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-certs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Handshakes a client against a server using the store's session context; `read` the outcome. */
async function connected<T>(
  store: CertificateStore,
  client: tls.ConnectionOptions,
  read: (c: tls.TLSSocket) => T,
): Promise<T> {
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext: store.sessionContext() });
    s.on('error', () => raw.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  try {
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...client });
    const result = await Promise.race([
      once(c, 'secureConnect').then(() => read(c)),
      once(c, 'error').then(([e]) => Promise.reject(e as Error)),
    ]);
    c.destroy();
    return result;
  } finally {
    server.close();
  }
}

const handshake = (store: CertificateStore, client: tls.ConnectionOptions): Promise<tls.PeerCertificate> =>
  connected(store, client, (c) => c.getPeerCertificate());

/** The suite a client offering `ciphers` (TLS 1.2 and 1.3 names) gets. */
const cipherFor = (store: CertificateStore, ciphers: string, maxVersion: tls.SecureVersion = 'TLSv1.2') =>
  connected(store, { ciphers, maxVersion }, (c) => c.getCipher().name);

test('with no files, a self-signed certificate is generated once and kept', async () => {
  const dataDir = path.join(dir, 'data');
  const policy: TlsPolicy = { minVersion: 'TLSv1.2' };
  const first = new CertificateStore({ files: [], dataDir }, policy);
  assert.deepEqual(await first.load(), { generated: true });
  const again = new CertificateStore({ files: [], dataDir }, policy);
  assert.deepEqual(await again.load(), { generated: false });
  assert.deepEqual(again.sha256, first.sha256);
  assert.equal((await stat(path.join(dataDir, 'self-signed.key'))).mode & 0o777, 0o600);
  const cert = await readFile(path.join(dataDir, 'self-signed.crt'), 'utf8');
  assert.equal(first.sha256[0], fingerprintOf(cert));
});

test('servers started at once on one data directory generate one certificate between them, and all serve it', async () => {
  const dataDir = path.join(dir, 'at-once');
  const stores = [1, 2, 3].map(() => new CertificateStore({ files: [], dataDir }, { minVersion: 'TLSv1.2' }));
  const loads = await Promise.all(stores.map((s) => s.load()));
  assert.equal(loads.filter((l) => l.generated).length, 1, JSON.stringify(loads));
  const onDisk = fingerprintOf(await readFile(path.join(dataDir, 'self-signed.crt'), 'utf8'));
  for (const s of stores) assert.deepEqual(s.sha256, [onDisk]);
  // A reload (SIGHUP) serves the same one.
  await stores[1]?.load();
  assert.deepEqual(stores[1]?.sha256, [onDisk]);
  assert.deepEqual((await readdir(dataDir)).sort(), ['self-signed.crt', 'self-signed.key']); // no lock left
});

test('RSA and ECDSA certificates side by side: each client gets the one it can use', async () => {
  const rsa = await generateSelfSigned('localhost', 'rsa');
  const ec = await generateSelfSigned('localhost', 'ecdsa');
  const files = [];
  for (const [name, pair] of [
    ['rsa', rsa],
    ['ec', ec],
  ] as const) {
    await writeFile(path.join(dir, `${name}.crt`), pair.cert);
    await writeFile(path.join(dir, `${name}.key`), pair.key);
    files.push({ certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) });
  }
  const store = new CertificateStore({ files, dataDir: dir }, { minVersion: 'TLSv1.2' });
  await store.load();
  assert.equal(store.sha256.length, 2);
  const ecOnly = await handshake(store, { sigalgs: 'ecdsa_secp256r1_sha256' });
  assert.equal(ecOnly.fingerprint256, fingerprintOf(ec.cert));
  const rsaOnly = await handshake(store, { sigalgs: 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' });
  assert.equal(rsaOnly.fingerprint256, fingerprintOf(rsa.cert));
});

test('TLS 1.0 is refused by default and accepted only when the operator allows it', async () => {
  const legacy: tls.ConnectionOptions = {
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1',
    ciphers: 'DEFAULT:@SECLEVEL=0',
  };
  const strict = new CertificateStore(
    { files: [], dataDir: path.join(dir, 'data') },
    { minVersion: 'TLSv1.2' },
  );
  await strict.load();
  await assert.rejects(handshake(strict, legacy));
  const lenient = new CertificateStore(
    { files: [], dataDir: path.join(dir, 'data') },
    { minVersion: 'TLSv1' },
  );
  await lenient.load();
  const cert = await handshake(lenient, legacy);
  assert.equal(cert.fingerprint256, strict.sha256[0]);
});

test("a key that is not its certificate's is refused at load, naming both files", async () => {
  const crt = path.join(dir, 'bad.crt');
  const key = path.join(dir, 'bad.key');
  await writeFile(crt, (await generateSelfSigned('localhost')).cert);
  await writeFile(key, (await generateSelfSigned('localhost')).key);
  const store = new CertificateStore(
    { files: [{ certFile: crt, keyFile: key }], dataDir: dir },
    { minVersion: 'TLSv1.2' },
  );
  await assert.rejects(store.load(), {
    code: 'ERR_INVALID_OPTION',
    message: `TLS key ${key} is not the key of the certificate ${crt} (both rsa, but not a pair).`,
  });
});

test('a key of another type than its certificate (EC for RSA) is refused too, at load and at a reload', async () => {
  // OpenSSL's check took it: the server started, and every handshake failed.
  const rsa = await generateSelfSigned('localhost', 'rsa');
  const crt = path.join(dir, 'typed.crt');
  const ecKey = path.join(dir, 'typed-ec.key');
  const rsaKey = path.join(dir, 'typed-rsa.key');
  await writeFile(crt, rsa.cert);
  await writeFile(rsaKey, rsa.key);
  await writeFile(ecKey, (await generateSelfSigned('localhost', 'ecdsa')).key);
  const policy: TlsPolicy = { minVersion: 'TLSv1.2' };
  const refusal = {
    code: 'ERR_INVALID_OPTION',
    message: `TLS key ${ecKey} is not the key of the certificate ${crt} (key type ec, certificate type rsa).`,
  };
  await assert.rejects(
    new CertificateStore({ files: [{ certFile: crt, keyFile: ecKey }], dataDir: dir }, policy).load(),
    refusal,
  );
  // A reload with it keeps the running certificate.
  const store = new CertificateStore({ files: [{ certFile: crt, keyFile: rsaKey }], dataDir: dir }, policy);
  await store.load();
  const context = store.sessionContext();
  await assert.rejects(
    store.replace({ files: [{ certFile: crt, keyFile: ecKey }], dataDir: dir }, policy),
    refusal,
  );
  assert.equal(store.sessionContext(), context);
  assert.equal((await handshake(store, {})).fingerprint256, fingerprintOf(rsa.cert));
});

test('a chain file with the server certificate after an intermediate is refused, saying where it is', async () => {
  const intermediate = await generateSelfSigned('Intermediate CA');
  const leaf = await generateSelfSigned('localhost');
  const reversed = path.join(dir, 'reversed.pem');
  const ordered = path.join(dir, 'ordered.pem');
  const key = path.join(dir, 'leaf.key');
  // As chain files are written: one PEM block after another (the generated PEM ends without a newline).
  await writeFile(reversed, `${intermediate.cert}\n${leaf.cert}\n`);
  await writeFile(ordered, `${leaf.cert}\n${intermediate.cert}\n`);
  await writeFile(key, leaf.key);
  const policy: TlsPolicy = { minVersion: 'TLSv1.2' };
  await assert.rejects(
    new CertificateStore({ files: [{ certFile: reversed, keyFile: key }], dataDir: dir }, policy).load(),
    {
      code: 'ERR_INVALID_OPTION',
      message:
        `TLS certificate ${reversed}: the certificate file must start with the server's own certificate ` +
        `(found it at position 2, the certificate of the key ${key}); put it first, then its intermediates.`,
    },
  );
  const store = new CertificateStore({ files: [{ certFile: ordered, keyFile: key }], dataDir: dir }, policy);
  await store.load();
  assert.deepEqual(store.sha256, [fingerprintOf(leaf.cert)]);
});

test('two certificates of one key type (an RSA rollover given twice) are refused, naming both files', async () => {
  const files = [];
  for (const [name, type] of [
    ['old-rsa', 'rsa'],
    ['ec', 'ecdsa'],
    ['new-rsa', 'rsa'],
  ] as const) {
    const pair = await generateSelfSigned('localhost', type);
    await writeFile(path.join(dir, `${name}.crt`), pair.cert);
    await writeFile(path.join(dir, `${name}.key`), pair.key);
    files.push({ certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) });
  }
  const [oldRsa, , newRsa] = files.map((f) => f.certFile);
  const store = new CertificateStore({ files, dataDir: dir }, { minVersion: 'TLSv1.2' });
  await assert.rejects(store.load(), {
    code: 'ERR_INVALID_OPTION',
    message:
      `TLS certificates ${oldRsa} and ${newRsa} are both RSA: only one certificate per key type ` +
      `(RSA, ECDSA, …) can be served; give one of them (an RSA and an ECDSA certificate may go together).`,
  });
});

test('a key file that holds no usable key is refused with its name', async () => {
  const crt = path.join(dir, 'keyless.crt');
  const key = path.join(dir, 'not-a.key');
  await writeFile(crt, (await generateSelfSigned('localhost')).cert);
  await writeFile(key, 'not a key\n');
  await assert.rejects(
    new CertificateStore(
      { files: [{ certFile: crt, keyFile: key }], dataDir: dir },
      { minVersion: 'TLSv1.2' },
    ).load(),
    {
      code: 'ERR_INVALID_OPTION',
      message: new RegExp(`^TLS key ${key}: not a private key Ferry can read \\(`),
    },
  );
});

test('a certificate or key file that cannot be read is refused with its name (exit 2 from the CLI)', async () => {
  const missing = path.join(dir, 'missing.crt');
  const store = new CertificateStore(
    { files: [{ certFile: missing, keyFile: path.join(dir, 'bad.key') }], dataDir: dir },
    { minVersion: 'TLSv1.2' },
  );
  await assert.rejects(store.load(), {
    code: 'ERR_INVALID_OPTION',
    message: `TLS certificate ${missing}: cannot read it (ENOENT).`,
  });
});

test("the server's cipher order wins: forward-secret AEAD first, no RSA key exchange", async () => {
  const store = new CertificateStore(
    { files: [], dataDir: path.join(dir, 'data') },
    { minVersion: 'TLSv1.2' },
  );
  await store.load();
  assert.equal(
    await cipherFor(store, 'AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384'),
    'ECDHE-RSA-AES256-GCM-SHA384',
  );
  assert.equal(
    await cipherFor(store, 'ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-GCM-SHA256'),
    'ECDHE-RSA-AES128-GCM-SHA256',
  );
  // Windows 7 schannel: ECDHE-RSA with CBC. RSA key exchange (no forward secrecy): not offered.
  assert.equal(await cipherFor(store, 'AES256-SHA:ECDHE-RSA-AES256-SHA384'), 'ECDHE-RSA-AES256-SHA384');
  await assert.rejects(cipherFor(store, 'AES128-SHA'), /handshake failure|no shared cipher/i);
  // Offered, last, while TLS 1.0/1.1 are allowed: their clients may have nothing else.
  const legacy = new CertificateStore(
    { files: [], dataDir: path.join(dir, 'data') },
    { minVersion: 'TLSv1' },
  );
  await legacy.load();
  assert.equal(await cipherFor(legacy, 'AES128-SHA:ECDHE-RSA-AES256-SHA'), 'ECDHE-RSA-AES256-SHA');
  assert.equal(await cipherFor(legacy, 'AES128-SHA'), 'AES128-SHA');
  // TLS 1.3: AES-256-GCM, whatever the client lists first.
  assert.equal(
    await cipherFor(store, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384', 'TLSv1.3'),
    'TLS_AES_256_GCM_SHA384',
  );
});

test("an operator's tlsCiphers: its order rules, and its DHE suites are negotiated", async () => {
  const source = { files: [], dataDir: path.join(dir, 'data') };
  const ciphers = 'DHE-RSA-AES256-GCM-SHA384:AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256';
  const store = new CertificateStore(source, { minVersion: 'TLSv1.2', ciphers });
  await store.load();
  assert.equal(await cipherFor(store, 'DHE-RSA-AES256-GCM-SHA384'), 'DHE-RSA-AES256-GCM-SHA384');
  assert.equal(await cipherFor(store, 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA'), 'AES128-SHA');
});
