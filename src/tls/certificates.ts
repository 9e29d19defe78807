import {
  X509Certificate,
  constants,
  createHash,
  createPrivateKey,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tls from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import type { X509CertificateCreateSelfSignedParams } from '@peculiar/x509';
import { writeAtomically } from '../atomic-file.js';
import { withFileLock } from '../file-lock.js';
import { FerryError } from '../errors.js';
import { readNoFollow } from '../state-file.js';
import { cipherOptions } from './cipher-policy.js';
import { parseClientCas } from './client-certificate.js';
import { checkClientCrls, crlBlocks } from './client-crl.js';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateSource {
  /** Certificate/key file pairs (RSA and/or ECDSA); empty means "generate a self-signed one". */
  readonly files: readonly { certFile: string; keyFile: string }[];
  /** Where a generated certificate is kept so its fingerprint stays stable across restarts. */
  readonly dataDir: string;
  /** PEM files of the CAs whose client certificates may log in (see client-certificate.ts). */
  readonly clientCaFiles?: readonly string[];
  /** PEM files of CRLs (one or more each) that revoke client certificates of those CAs. */
  readonly clientCrlFiles?: readonly string[];
}

/**
 * What a store is built from, as read from the files (or generated): a cluster primary, which read
 * them before dropping its privileges, hands this to its workers, which need not read the files.
 */
export interface CertificateMaterial {
  readonly pairs: readonly KeyPair[];
  /** Each client-CA file's PEM, with its name for error messages. */
  readonly clientCas: readonly PemFile[];
  /** Each client-CRL file's PEM. */
  readonly clientCrls: readonly PemFile[];
}

export interface PemFile {
  readonly file: string;
  readonly pem: string;
}

export interface TlsPolicy {
  readonly minVersion: tls.SecureVersion;
  readonly maxVersion?: tls.SecureVersion;
  /** OpenSSL's cipher list (TLS 1.3 suites too), in the order the server prefers; default SERVER_CIPHERS. */
  readonly ciphers?: string;
}

/**
 * A certificate setting that cannot serve. `option`: which, as the TLS options name it
 * (`certificates.0.certFile`, `clientCaFiles.1`, `dataDir`), for the server to name it as its
 * other option errors do; the message names the file.
 */
export class CertificateError extends FerryError {
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_OPTION', message, options);
    this.name = 'CertificateError';
    this.option = option;
  }
}

/** A FerryError about `option` (one named already, or not Ferry's, passes as it is). */
const about =
  (option: string) =>
  (err: unknown): never => {
    if (err instanceof CertificateError || !(err instanceof FerryError)) throw err;
    throw new CertificateError(option, err.message, { cause: err });
  };

/** Runs `step`; what it throws is about `option` (undefined: left for the caller to name). */
function within<T>(option: string | undefined, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (option === undefined) throw err;
    return about(option)(err);
  }
}

/**
 * A session stays resumable as long as its control connection lives (its SessionFamily is the only
 * way to resume it); 7 days is TLS 1.3's cap on a ticket's lifetime.
 */
const SESSION_LIFETIME_S = 7 * 86_400;

/**
 * The server's certificates and the one SecureContext built from them, shared by every control and
 * data connection. Stateless tickets are off: sessions are kept per control connection by
 * tls/session-cache.ts, which is what binds a data connection to its control connection (or, under
 * --session-reuse-scope user, to its user's connections from its address).
 */
export class CertificateStore {
  private fingerprints: readonly string[] = [];
  private context: tls.SecureContext | undefined;
  private cas: readonly X509Certificate[] = [];
  private loaded: CertificateMaterial | undefined;
  /** The certificate/key files the pairs in use were read from (none: given, or generated). */
  private loadedFiles: readonly { certFile: string; keyFile: string }[] = [];
  private keptReasons: readonly string[] = [];

  constructor(
    private source: CertificateSource,
    private policy: TlsPolicy,
  ) {}

  /**
   * Other files or another policy (a configuration reload): loaded before anything changes, so a
   * failure leaves the store as it was. `given`: as in load().
   */
  async replace(
    source: CertificateSource,
    policy: TlsPolicy,
    given?: CertificateMaterial,
  ): Promise<{ generated: boolean }> {
    const before = { source: this.source, policy: this.policy };
    this.source = source;
    this.policy = policy;
    try {
      return await this.load(given);
    } catch (err) {
      this.source = before.source;
      this.policy = before.policy;
      throw err;
    }
  }

  /**
   * (Re)reads the files, or generates/loads the self-signed default; or takes `given`, what another
   * store read from the same source (a cluster worker's primary). Old sessions keep theirs.
   */
  async load(given?: CertificateMaterial): Promise<{ generated: boolean }> {
    const { material, generated, kept } = given
      ? { material: given, generated: false, kept: [] }
      : await this.read();
    const pairs = material.pairs;
    // Fail here, with the file named, rather than at the first handshake.
    const cas = material.clientCas.flatMap((c, i) =>
      within(`clientCaFiles.${i}`, () => parseClientCas(c.pem, c.file)),
    );
    material.clientCrls.forEach((c, i) => within(`clientCrlFiles.${i}`, () => checkClientCrls([c])));
    let context: tls.SecureContext;
    try {
      context = tls.createSecureContext({ ...this.contextOptions(pairs), ...clientTrust(material) });
    } catch (err) {
      const files = this.source.files.map((f) => f.certFile).join(', ');
      throw new CertificateError(
        files ? 'certificates' : 'dataDir',
        `Certificate or key${files ? ` (${files})` : ''} is not usable: ${(err as Error).message}`,
      );
    }
    this.context = context;
    this.cas = cas;
    this.fingerprints = pairs.map((p) => fingerprintOf(p.cert));
    this.loaded = material;
    this.loadedFiles = given ? [] : this.source.files;
    this.keptReasons = kept;
    return { generated };
  }

  /**
   * Why the last load kept the certificates it was serving (the files it could not read, each an
   * error message); empty when it served what it read.
   */
  get kept(): readonly string[] {
    return this.keptReasons;
  }

  /** What the last load() used: for a cluster primary to hand its workers. */
  get material(): CertificateMaterial | undefined {
    return this.loaded;
  }

  /** The source's files (checked), or the self-signed default (generated if missing). */
  private async read(): Promise<{ material: CertificateMaterial; generated: boolean; kept: string[] }> {
    let generated = false;
    let pairs: readonly KeyPair[];
    const kept: string[] = [];
    if (this.source.files.length > 0) {
      // Files it served before and may not read now (a root-only key, the server run as another
      // user): the pairs in use are kept, so that the rest of a reload still applies.
      const running =
        this.loaded && isDeepStrictEqual(this.loadedFiles, this.source.files) ? this.loaded : undefined;
      const read = await Promise.all(
        this.source.files.map((f, i) =>
          readPair(f, `certificates.${i}`).catch((err: unknown) => {
            if (!running || !deniedRead(err)) throw err;
            kept.push((err as Error).message);
            return undefined;
          }),
        ),
      );
      const all = read.filter((r) => r !== undefined);
      if (running && kept.length > 0) pairs = running.pairs;
      else {
        onePerKeyType(all);
        pairs = all.map((r) => r.pair);
      }
    } else {
      const r = await loadOrGenerateSelfSigned(this.source.dataDir).catch(about('dataDir'));
      pairs = [r.pair];
      generated = r.generated;
    }
    const clientCas = await readPemFiles(this.source.clientCaFiles, 'client CA', 'clientCaFiles');
    const clientCrls = await readPemFiles(this.source.clientCrlFiles, 'client CRL', 'clientCrlFiles');
    return { material: { pairs, clientCas, clientCrls }, generated, kept };
  }

  /** SHA-256 fingerprints ("AB:CD:…") of the certificates in use. */
  get sha256(): readonly string[] {
    return this.fingerprints;
  }

  /** The CAs whose client certificates may log in (as of the last load). */
  get clientCas(): readonly X509Certificate[] {
    return this.cas;
  }

  /** The context for new TLS sessions (a reload replaces it; sessions keep the one they started with). */
  sessionContext(): tls.SecureContext {
    if (!this.context) throw new FerryError('ERR_TLS', 'Certificates are not loaded.');
    return this.context;
  }

  private contextOptions(pairs: readonly KeyPair[]): tls.SecureContextOptions {
    return {
      cert: pairs.map((p) => p.cert),
      key: pairs.map((p) => p.key),
      minVersion: this.policy.minVersion,
      maxVersion: this.policy.maxVersion ?? 'TLSv1.3',
      ...cipherOptions(this.policy),
      sessionIdContext: 'ferry',
      // No client-initiated renegotiation: a client could make the server redo handshakes at will.
      secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION,
      sessionTimeout: SESSION_LIFETIME_S,
    };
  }
}

/**
 * The client CAs (and their CRLs) OpenSSL checks a client's chain against: path length, name
 * constraints, critical extensions, purpose, dates, revocation (tls/client-certificate.ts reads its
 * verdict). `ca` also names them in the CertificateRequest, for clients that hold several
 * certificates. A CA in the files may be an intermediate (a partial chain ends there). None: no
 * `ca`, and Node's public roots verify, which client-certificate.ts never lets vouch for a user.
 */
function clientTrust(m: CertificateMaterial): tls.SecureContextOptions {
  if (m.clientCas.length === 0) return {};
  return {
    ca: m.clientCas.map((c) => c.pem),
    allowPartialTrustChain: true,
    // One CRL per entry: OpenSSL reads only the first of a PEM string.
    ...(m.clientCrls.length > 0 && { crl: m.clientCrls.flatMap((c) => crlBlocks(c.pem)) }),
  };
}

function readPemFiles(
  files: readonly string[] | undefined,
  what: string,
  option: string,
): Promise<PemFile[]> {
  return Promise.all(
    (files ?? []).map(async (file, i) => {
      const pem = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new CertificateError(`${option}.${i}`, `${file}: cannot read the ${what} (${err.code}).`);
      });
      return { file, pem };
    }),
  );
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** sha256 of a DER certificate, as the client pins it. */
export function fingerprintOfDer(der: Buffer): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/** Where a generated certificate and its key are kept in the data directory. */
export function selfSignedFiles(dataDir: string): { certFile: string; keyFile: string } {
  return { certFile: path.join(dataDir, 'self-signed.crt'), keyFile: path.join(dataDir, 'self-signed.key') };
}

/**
 * Generated once per data directory, even by servers started at the same moment: under a lock file
 * (`self-signed.crt.lock`, created exclusively) one generates and writes the pair while the others
 * wait and then load it, so all serve the same certificate. Without the lock, a pair found whole is
 * loaded at once (a reload as the run-as user need not write the directory); a pair missing a file,
 * or not matching (read while the holder replaced it), is looked at again holding the lock.
 * Links are not followed, reading or writing (a new file replaces the name): as root (before a
 * --run-as drop) the data directory may be the run-as user's, and a link there could point anywhere.
 */
async function loadOrGenerateSelfSigned(dataDir: string): Promise<{ pair: KeyPair; generated: boolean }> {
  const files = selfSignedFiles(dataDir);
  const found = await readSelfSigned(files, dataDir);
  if (found && isPair(found, files)) return { pair: found, generated: false };
  return withFileLock(files.certFile, async () => {
    const now = await readSelfSigned(files, dataDir);
    if (now) {
      matchingPair(now, files); // there, but not a pair: not overwritten (throws)
      return { pair: now, generated: false };
    }
    const pair = await generateSelfSigned('localhost');
    await writeAtomically(files.keyFile, pair.key, { keepOwner: false });
    await writeAtomically(files.certFile, pair.cert, { mode: 0o644, keepOwner: false });
    return { pair, generated: true };
  }).catch((err: unknown) => {
    // No lock to be had (a directory it cannot write): say what is wrong with the pair found.
    if (found) matchingPair(found, files);
    throw err;
  });
}

/** The pair in the data directory, undefined while either file is missing. */
async function readSelfSigned(
  files: { certFile: string; keyFile: string },
  dataDir: string,
): Promise<KeyPair | undefined> {
  try {
    // The certificate first: it is written last, so its key is there once it is.
    const cert = await readNoFollow(files.certFile);
    return { cert, key: await readNoFollow(files.keyFile) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `The generated certificate in ${dataDir}: cannot read it (${code === 'ELOOP' ? 'a symbolic link, not followed' : (code ?? (err as Error).message)}); remove self-signed.crt and self-signed.key to generate a new one.`,
    );
  }
}

function isPair(pair: KeyPair, files: { certFile: string; keyFile: string }): boolean {
  try {
    matchingPair(pair, files);
    return true;
  } catch {
    return false;
  }
}

/**
 * A self-signed certificate valid 10 years. RSA-2048 by default, for the widest client
 * compatibility (old Windows and mainframe clients); ECDSA P-256 on request.
 */
export async function generateSelfSigned(
  commonName: string,
  algorithm: 'rsa' | 'ecdsa' = 'rsa',
  validity?: { notBefore: Date; notAfter: Date },
): Promise<KeyPair> {
  // Loaded only to generate: the library and its dependencies cost every process ~20 MB of RSS.
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const crypto = webcrypto;
  const alg =
    algorithm === 'rsa'
      ? {
          name: 'RSASSA-PKCS1-v1_5',
          hash: 'SHA-256',
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: 2048,
        }
      : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const notBefore = validity?.notBefore ?? new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: `CN=${commonName}`,
    notBefore,
    notAfter: validity?.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * 86_400_000),
    keys: keys as unknown as X509CertificateCreateSelfSignedParams['keys'],
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: commonName },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
    ],
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key: key.replace(/\n\n/g, '\n') };
}

interface ReadPair {
  readonly pair: KeyPair;
  readonly certFile: string;
  /** Its place in the options (`certificates.0`). */
  readonly option: string;
  /** The key's type as node:crypto names it: 'rsa', 'ec', 'rsa-pss', 'ed25519'… */
  readonly keyType: string;
}

/** A certificate and its key, read and checked; errors name the files. */
async function readPair(f: { certFile: string; keyFile: string }, option: string): Promise<ReadPair> {
  const pair = {
    cert: await readPem(f.certFile, 'certificate').catch(about(`${option}.certFile`)),
    key: await readPem(f.keyFile, 'key').catch(about(`${option}.keyFile`)),
  };
  return { pair, certFile: f.certFile, option, keyType: within(option, () => matchingPair(pair, f, option)) };
}

const KEY_TYPE_NAMES: Readonly<Record<string, string>> = { rsa: 'RSA', ec: 'ECDSA', 'rsa-pss': 'RSA-PSS' };

/**
 * OpenSSL keeps one certificate per key type (RSA, ECDSA, …), the later replacing the earlier: two
 * RSA pairs (a rollover given as both) failed with "key values mismatch", naming no file.
 */
function onePerKeyType(pairs: readonly ReadPair[]): void {
  const seen = new Map<string, string>();
  for (const { keyType, certFile, option } of pairs) {
    const first = seen.get(keyType);
    if (first !== undefined) {
      const name = KEY_TYPE_NAMES[keyType] ?? keyType;
      throw new CertificateError(
        option,
        `TLS certificates ${first} and ${certFile} are both ${name}: only one certificate per key type ` +
          `(RSA, ECDSA, …) can be served; give one of them (an RSA and an ECDSA certificate may go together).`,
      );
    }
    seen.set(keyType, certFile);
  }
}

/**
 * The key's type, if it is the certificate's key. OpenSSL's own check (createSecureContext) looks
 * only at keys of the certificate's type: an EC key with an RSA certificate passed it, and then
 * every handshake failed ("no suitable signature algorithm").
 */
function matchingPair(pair: KeyPair, f: { certFile: string; keyFile: string }, option?: string): string {
  const cert = within(option && `${option}.certFile`, () =>
    parsed(() => new X509Certificate(pair.cert), `TLS certificate ${f.certFile}: not a PEM certificate`),
  );
  const key = within(option && `${option}.keyFile`, () =>
    parsed(
      () => createPrivateKey(pair.key),
      /ENCRYPTED/.test(pair.key)
        ? `TLS key ${f.keyFile}: encrypted; Ferry needs it without a passphrase`
        : `TLS key ${f.keyFile}: not a private key Ferry can read`,
    ),
  );
  if (!cert.checkPrivateKey(key)) {
    // A chain in the wrong order (intermediates first): the key is that of a later certificate.
    const at = laterCertificates(pair.cert).findIndex((c) => c?.checkPrivateKey(key));
    if (at >= 0) {
      throw new FerryError(
        'ERR_INVALID_OPTION',
        `TLS certificate ${f.certFile}: the certificate file must start with the server's own certificate ` +
          `(found it at position ${at + 2}, the certificate of the key ${f.keyFile}); put it first, ` +
          `then its intermediates.`,
      );
    }
    const [keyType, certType] = [key.asymmetricKeyType, cert.publicKey.asymmetricKeyType];
    const why =
      keyType === certType
        ? `both ${keyType}, but not a pair`
        : `key type ${keyType}, certificate type ${certType}`;
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `TLS key ${f.keyFile} is not the key of the certificate ${f.certFile} (${why}).`,
    );
  }
  return key.asymmetricKeyType ?? 'unknown';
}

/** The certificates after the first in a PEM file (a chain); undefined for one that does not parse. */
function laterCertificates(pem: string): (X509Certificate | undefined)[] {
  return certificateBlocks(pem)
    .slice(1)
    .map((b) => {
      try {
        return new X509Certificate(b);
      } catch {
        return undefined;
      }
    });
}

/** The PEM certificates in a file's text, in order. */
export function certificateBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

function parsed<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch (err) {
    throw new FerryError('ERR_INVALID_OPTION', `${what} (${(err as Error).message}).`);
  }
}

/** A certificate or key file, or an error that names it (a bare ENOENT did not say which file). */
function readPem(file: string, what: 'certificate' | 'key'): Promise<string> {
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `TLS ${what} ${file}: cannot read it (${err.code ?? err.message}).`,
      { cause: err },
    );
  });
}

/** Whether `err` (or what caused it) is a file's read refused by its permissions. */
function deniedRead(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return true;
  }
  return false;
}
