/**
 * Client certificates for the mutual-TLS tests: a CA, certificates it issues (with chosen dates,
 * as intermediates too) and self-signed ones to pin. ECDSA P-256: quick to generate. Also server
 * certificates for given names, for the client's trust tests.
 */
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 86_400_000;
type Keys = webcrypto.CryptoKeyPair;

export interface TestCert {
  /** PEM certificate (with its issuing intermediates, if any, after it). */
  readonly cert: string;
  readonly key: string;
  /** SHA-256, AA:BB:… */
  readonly fingerprint: string;
  readonly name: string;
  readonly keys: Keys;
}

export interface Validity {
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

type Algorithm = typeof ALG | ReturnType<typeof rsa>;

const rsa = (bits: number) => ({
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: bits,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
});

async function newKeys(alg: Algorithm = ALG): Promise<Keys> {
  return (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as Keys;
}

async function keyPem(keys: Keys): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

function dates(v: Validity): { notBefore: Date; notAfter: Date } {
  const notBefore = v.notBefore ?? new Date(Date.now() - DAY);
  return { notBefore, notAfter: v.notAfter ?? new Date(notBefore.getTime() + 30 * DAY) };
}

async function finish(
  cert: x509.X509Certificate,
  keys: Keys,
  name: string,
  chain: string = '',
): Promise<TestCert> {
  const pem = cert.toString('pem') + '\n';
  return {
    cert: pem + chain,
    key: await keyPem(keys),
    fingerprint: new X509Certificate(pem).fingerprint256,
    name,
    keys,
  };
}

const leafExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
];

/** A TLS server's certificate for `names` (host names or IP addresses). */
const serverExtensions = (names: readonly string[]): x509.Extension[] => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  new x509.SubjectAlternativeNameExtension(
    names.map((value) => ({ type: isIP(value) === 0 ? 'dns' : 'ip', value })),
  ),
];

const caExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

async function selfSigned(
  cn: string,
  v: Validity,
  extensions: x509.Extension[],
  alg: Algorithm = ALG,
): Promise<TestCert> {
  const keys = await newKeys(alg);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: `CN=${cn}`,
    ...dates(v),
    keys: keys as unknown as x509.X509CertificateCreateSelfSignedParams['keys'],
    signingAlgorithm: alg,
    extensions,
  });
  return finish(cert, keys, `CN=${cn}`);
}

/** A root CA named `CN=<cn>`. */
export const testCa = (cn: string, v: Validity = {}): Promise<TestCert> => selfSigned(cn, v, caExtensions());

/** A self-signed client certificate (to pin). */
export const selfSignedClient = (cn: string, v: Validity = {}): Promise<TestCert> =>
  selfSigned(cn, v, leafExtensions());

/** A self-signed server certificate for `names`. */
export const selfSignedServer = (names: readonly string[], v: Validity = {}): Promise<TestCert> =>
  selfSigned(names[0] ?? 'server', v, serverExtensions(names));

/** A self-signed server certificate for `names` with an RSA key of `bits` (1024: a weak one). */
export const rsaServer = (names: readonly string[], bits: number): Promise<TestCert> =>
  selfSigned(names[0] ?? 'server', {}, serverExtensions(names), rsa(bits));

/**
 * A certificate `CN=<cn>` issued by `ca`: a client certificate, an intermediate CA with `asCa`, or a
 * server certificate for `serverNames`.
 */
export async function issuedBy(
  ca: TestCert,
  cn: string,
  v: Validity & { asCa?: boolean; serverNames?: readonly string[] } = {},
): Promise<TestCert> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject: `CN=${cn}`,
    issuer: ca.name,
    ...dates(v),
    publicKey: keys.publicKey as unknown as x509.X509CertificateCreateWithKeyParams['publicKey'],
    signingKey: ca.keys.privateKey as unknown as x509.X509CertificateCreateWithKeyParams['signingKey'],
    signingAlgorithm: ALG,
    extensions: v.asCa ? caExtensions() : v.serverNames ? serverExtensions(v.serverNames) : leafExtensions(),
  });
  // An intermediate's holder sends it along: its own chain (if any) follows its certificate.
  const chain = isIntermediate(ca) ? ca.cert : '';
  return finish(cert, keys, `CN=${cn}`, chain);
}

function isIntermediate(c: TestCert): boolean {
  const x = new X509Certificate(c.cert);
  return x.ca && x.subject !== x.issuer;
}

/** A temp directory with files written into it, removed by `cleanup`. */
export async function certDir(files: Record<string, string>): Promise<{
  path: (name: string) => string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-client-certs-'));
  for (const [name, text] of Object.entries(files))
    await writeFile(path.join(dir, name), text, { mode: 0o600 });
  return { path: (name) => path.join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
}
