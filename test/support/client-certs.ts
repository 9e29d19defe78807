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

/** `pathLength`: how many CAs may follow this one on a chain (basicConstraints pathlen). */
const caExtensions = (pathLength?: number): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, pathLength, true),
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
export const testCa = (cn: string, v: Validity & { pathLength?: number } = {}): Promise<TestCert> =>
  selfSigned(cn, v, caExtensions(v.pathLength));

/** A self-signed client certificate (to pin). */
export const selfSignedClient = (cn: string, v: Validity = {}): Promise<TestCert> =>
  selfSigned(cn, v, leafExtensions());

/** A self-signed server certificate for `names`. */
export const selfSignedServer = (names: readonly string[], v: Validity = {}): Promise<TestCert> =>
  selfSigned(names[0] ?? 'server', v, serverExtensions(names));

/** A self-signed server certificate for `names` with an RSA key of `bits` (1024: a weak one). */
export const rsaServer = (names: readonly string[], bits: number): Promise<TestCert> =>
  selfSigned(names[0] ?? 'server', {}, serverExtensions(names), rsa(bits));

export interface IssueOptions extends Validity {
  readonly asCa?: boolean;
  readonly serverNames?: readonly string[];
  /** The whole subject (`O=DeptB, CN=bob`) instead of `CN=<cn>`. */
  readonly subject?: string;
  /** Added to the usual ones (a name constraint, an unknown critical extension). */
  readonly extensions?: readonly x509.Extension[];
}

/**
 * A certificate `CN=<cn>` issued by `ca`: a client certificate, an intermediate CA with `asCa`, or a
 * server certificate for `serverNames`.
 */
export async function issuedBy(ca: TestCert, cn: string, v: IssueOptions = {}): Promise<TestCert> {
  const keys = await newKeys();
  const subject = v.subject ?? `CN=${cn}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject,
    issuer: ca.name,
    ...dates(v),
    publicKey: keys.publicKey as unknown as x509.X509CertificateCreateWithKeyParams['publicKey'],
    signingKey: ca.keys.privateKey as unknown as x509.X509CertificateCreateWithKeyParams['signingKey'],
    signingAlgorithm: ALG,
    extensions: [
      ...(v.asCa ? caExtensions() : v.serverNames ? serverExtensions(v.serverNames) : leafExtensions()),
      ...(v.extensions ?? []),
    ],
  });
  // An intermediate's holder sends it along: its own chain (if any) follows its certificate.
  const chain = isIntermediate(ca) ? ca.cert : '';
  return finish(cert, keys, subject, chain);
}

/** A DER TLV with a short length (what the extensions below need). */
function der(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.length > 127) throw new Error('der(): long lengths are not needed here');
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}

/** A critical name constraint: the CA's certificates must have subjects under `dn` (`O=DeptA`). */
export function permittedSubtree(dn: string): x509.Extension {
  const name = new Uint8Array(new x509.Name(dn).toArrayBuffer());
  // NameConstraints { permittedSubtrees [0] { GeneralSubtree { directoryName [4] Name } } }
  const value = der(0x30, der(0xa0, der(0x30, der(0xa4, name))));
  return new x509.Extension('2.5.29.30', true, value);
}

/** A critical extension no verifier knows (OID 1.2.3.4.5.6.7): it must refuse the certificate. */
export const unknownCriticalExtension = (): x509.Extension =>
  new x509.Extension('1.2.3.4.5.6.7', true, der(0x0c, Buffer.from('must-understand')));

/** A DER INTEGER's hex for a serial number: one with its top bit set needs a leading 00 byte. */
const positive = (hex: string): string => (/^[89a-f]/i.test(hex) ? `00${hex}` : hex);

/** A CRL from `ca` revoking `revoked` (none: an empty one), current for a day. */
export async function crlOf(ca: TestCert, revoked: readonly TestCert[] = []): Promise<string> {
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.name,
    thisUpdate: new Date(now - 60_000),
    nextUpdate: new Date(now + DAY),
    entries: revoked.map((c) => ({
      serialNumber: positive(new X509Certificate(c.cert).serialNumber),
      revocationDate: new Date(now - 60_000),
    })),
    signingKey: ca.keys.privateKey as unknown as x509.X509CrlCreateParams['signingKey'],
    signingAlgorithm: ALG,
  });
  // OpenSSL's label (`openssl crl` writes it; it reads no other).
  return crl.toString('pem').replace(/-----(BEGIN|END) CRL-----/g, '-----$1 X509 CRL-----') + '\n';
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
