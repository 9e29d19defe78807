import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { tlsWarnings } from './certificate-warnings.js';
import { generateSelfSigned } from './certificates.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DAY = 86_400_000;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
type Keys = webcrypto.CryptoKeyPair;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cert-warnings-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Made {
  readonly pem: string;
  readonly name: string;
  readonly keys: Keys;
}

/** A certificate `CN=<cn>` signed by `by` (self-signed without), a CA with `ca`; valid from -10 days to +400. */
async function made(
  cn: string,
  o: { by?: Made; ca?: boolean; keys?: Keys; days?: [number, number] } = {},
): Promise<Made> {
  const keys = o.keys ?? ((await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as Keys);
  const [from, to] = o.days ?? [-10, 400];
  const signer = o.by?.keys ?? keys;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject: `CN=${cn}`,
    issuer: o.by?.name ?? `CN=${cn}`,
    notBefore: new Date(Date.now() + from * DAY),
    notAfter: new Date(Date.now() + to * DAY),
    publicKey: keys.publicKey as unknown as x509.X509CertificateCreateWithKeyParams['publicKey'],
    signingKey: signer.privateKey as unknown as x509.X509CertificateCreateWithKeyParams['signingKey'],
    signingAlgorithm: signer.privateKey.algorithm.name === 'ECDSA' ? EC : signer.privateKey.algorithm,
    extensions: [new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true)],
  });
  return { pem: cert.toString('pem') + '\n', name: `CN=${cn}`, keys };
}

async function keyPem(keys: Keys): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
}

/** Writes `certs` (leaf first) and the leaf's key (mode 0600); returns the pair's files. */
async function files(name: string, certs: readonly Made[]): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  await writeFile(certFile, certs.map((c) => c.pem).join(''));
  await writeFile(keyFile, await keyPem(certs[0]?.keys as Keys), { mode: 0o600 });
  return { certFile, keyFile };
}

test('a certificate in use that expired, is not valid yet or ends within 30 days is warned about', async () => {
  const now = Date.now();
  const made: Record<string, [number, number]> = {
    expired: [-40, -1],
    future: [2, 400],
    soon: [-10, 12],
    fine: [-10, 400],
  };
  const certificates = [];
  for (const [name, [from, to]] of Object.entries(made)) {
    const validity = { notBefore: new Date(now + from * DAY), notAfter: new Date(now + to * DAY) };
    const pair = await generateSelfSigned('localhost', 'ecdsa', validity);
    const certFile = path.join(dir, `${name}.crt`);
    const keyFile = path.join(dir, `${name}.key`);
    await writeFile(certFile, pair.cert);
    await writeFile(keyFile, pair.key, { mode: 0o600 });
    certificates.push({ certFile, keyFile });
  }
  const warnings = await tlsWarnings({ certificates }, now);
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /expired\.crt expired on .*clients will refuse it/);
  assert.match(warnings[1] ?? '', /future\.crt is not valid before /);
  assert.match(warnings[2] ?? '', /soon\.crt expires in 12 days/);
});

test('a chain whose intermediate expired or is not valid yet is warned about, naming the intermediate', async () => {
  const root = await made('Root', { ca: true });
  const expired = await made('Old Intermediate', { by: root, ca: true, days: [-400, -2] });
  const future = await made('New Intermediate', { by: root, ca: true, days: [3, 400] });
  const a = await files('old-chain', [await made('a.example', { by: expired }), expired]);
  const b = await files('new-chain', [await made('b.example', { by: future }), future]);
  const warnings = await tlsWarnings({ certificates: [a, b] });
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(
    warnings[0] ?? '',
    /the intermediate "CN=Old Intermediate" in .*old-chain\.crt expired on .*refuse/,
  );
  assert.match(
    warnings[1] ?? '',
    /the intermediate "CN=New Intermediate" in .*new-chain\.crt is not valid before /,
  );
});

test('a leaf whose issuer is neither in the file nor a known root: append it if an intermediate, else trust the root', async () => {
  const root = await made('Private Root', { ca: true });
  const intermediate = await made('Issuing CA', { by: root, ca: true });
  const leaf = await made('ftp.example', { by: intermediate });
  const alone = await files('alone', [leaf]);
  const [w, ...more] = await tlsWarnings({ certificates: [alone] });
  assert.deepEqual(more, []);
  assert.match(
    w ?? '',
    /alone\.crt is issued by "CN=Issuing CA", neither in the file nor a root Node knows: if it is an intermediate CA, append it to the certificate file \(clients need it\); if it is your own root CA, do not append it \(clients never take a root from the server\): clients must trust that CA themselves \(curl --cacert, lftp ssl:ca-file, ferry --ca\)/,
  );
  // Signed by a private root directly: the same words, which do not tell to send the root.
  const direct = await files('direct', [await made('ftp.example', { by: root })]);
  const [d] = await tlsWarnings({ certificates: [direct] });
  assert.match(
    d ?? '',
    /direct\.crt is issued by "CN=Private Root".*if it is your own root CA, do not append it/,
  );
  // With its intermediate the leaf's issuer is there: the root is for clients to trust (or sent too).
  const chained = await files('chained', [leaf, intermediate]);
  assert.deepEqual(await tlsWarnings({ certificates: [chained] }), []);
  const full = await files('full', [leaf, intermediate, root]);
  assert.deepEqual(await tlsWarnings({ certificates: [full] }), []);
});

test('an RSA key under 2048 bits is warned about (clients refuse it as too weak)', async () => {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) };
  const weak = (await webcrypto.subtle.generateKey({ ...alg, modulusLength: 1024 }, true, [
    'sign',
    'verify',
  ])) as Keys;
  const f = await files('rsa1024', [await made('weak.example', { keys: weak })]);
  const warnings = await tlsWarnings({ certificates: [f] });
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(
    warnings[0] ?? '',
    /rsa1024\.crt has a 1024-bit RSA key: clients refuse it .*EE certificate key too weak/,
  );
  // RSA-2048 (Ferry's own kind) and ECDSA P-256 are fine.
  const strong = await generateSelfSigned('localhost', 'rsa');
  const certFile = path.join(dir, 'rsa2048.crt');
  const keyFile = path.join(dir, 'rsa2048.key');
  await writeFile(certFile, strong.cert);
  await writeFile(keyFile, strong.key, { mode: 0o600 });
  assert.deepEqual(await tlsWarnings({ certificates: [{ certFile, keyFile }] }), []);
});

test('a key file that others can read is warned about, one only its group can read is not', async () => {
  const f = await files('shared-key', [await made('shared.example')]);
  assert.deepEqual(await tlsWarnings({ certificates: [f] }), []);
  await chmod(f.keyFile, 0o640); // chgrp ferry; chmod 640: the README's way for --run-as
  assert.deepEqual(await tlsWarnings({ certificates: [f] }), []);
  await chmod(f.keyFile, 0o644);
  assert.deepEqual(await tlsWarnings({ certificates: [f] }), [
    `the key ${f.keyFile} is readable by others (mode 0644): make it private (chmod 600, or 640 for a group such as the service user's), like an ssh key`,
  ]);
});

test('tlsCiphers that leave TLS 1.2 nothing: only TLS 1.3 suites, or none for the certificate key type', async () => {
  const ec = await files('ec-only', [await made('ec.example')]);
  const onlyTls13 = await tlsWarnings({ ciphers: 'TLS_AES_256_GCM_SHA384' });
  assert.equal(onlyTls13.length, 1, onlyTls13.join('\n'));
  assert.match(onlyTls13[0] ?? '', /names only TLS 1\.3 suites: TLS 1\.2 is off/);
  assert.deepEqual(await tlsWarnings({ ciphers: 'TLS_AES_256_GCM_SHA384', minVersion: 'TLSv1.3' }), []);
  // RSA suites with an ECDSA certificate, ECDSA suites with the generated RSA one.
  const rsaSuites = 'ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384:AES128-SHA';
  const [forEc] = await tlsWarnings({ certificates: [ec], ciphers: rsaSuites });
  assert.match(
    forEc ?? '',
    /no TLS 1\.2 suite usable with the ECDSA certificate: TLS 1\.2 clients are refused/,
  );
  const [forRsa] = await tlsWarnings({ ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  assert.match(forRsa ?? '', /no TLS 1\.2 suite usable with the RSA certificate/);
  assert.deepEqual(await tlsWarnings({ ciphers: rsaSuites }), []);
  assert.deepEqual(
    await tlsWarnings({ certificates: [ec], ciphers: `${rsaSuites}:ECDHE-ECDSA-AES128-SHA` }),
    [],
  );
  assert.deepEqual(await tlsWarnings({ ciphers: 'HIGH:!aNULL' }), []);
});

test('tlsCiphers with nothing for one of two certificates (RSA and ECDSA): a warning naming that one', async () => {
  const ec = await files('pair-ec', [await made('ec.example')]);
  const pair = await generateSelfSigned('localhost', 'rsa');
  const rsa = { certFile: path.join(dir, 'pair-rsa.crt'), keyFile: path.join(dir, 'pair-rsa.key') };
  await writeFile(rsa.certFile, pair.cert);
  await writeFile(rsa.keyFile, pair.key, { mode: 0o600 });
  const both = [rsa, ec];
  // The README's example before it was fixed: an ECDSA-only TLS 1.2 client is refused (alert 40).
  const onlyRsa = await tlsWarnings({
    certificates: both,
    ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384',
  });
  assert.equal(onlyRsa.length, 1, onlyRsa.join('\n'));
  assert.match(
    onlyRsa[0] ?? '',
    /no TLS 1\.2 suite usable with the ECDSA certificate: TLS 1\.2 clients that take only ECDSA are refused/,
  );
  const onlyEc = await tlsWarnings({ certificates: both, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  assert.equal(onlyEc.length, 1, onlyEc.join('\n'));
  assert.match(
    onlyEc[0] ?? '',
    /no TLS 1\.2 suite usable with the RSA certificate: .* add an ECDHE-RSA suite/,
  );
  // The README's example now.
  const fixed = 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384';
  assert.deepEqual(await tlsWarnings({ certificates: both, ciphers: fixed }), []);
});

test('TLS 1.0/1.1 allowed: a warning that TLS 1.2 is weakened for every client', async () => {
  for (const [minVersion, from] of [
    ['TLSv1', '1.0'],
    ['TLSv1.1', '1.1'],
  ] as const) {
    const [w, ...more] = await tlsWarnings({ minVersion });
    assert.deepEqual(more, []);
    assert.match(w ?? '', new RegExp(`TLS ${from} and up are allowed .*weakens TLS 1\\.2 for all clients`));
  }
  assert.deepEqual(await tlsWarnings({ minVersion: 'TLSv1.2' }), []);
});
