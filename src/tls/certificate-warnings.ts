import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import * as tls from 'node:tls';
import { certificateBlocks } from './certificates.js';
import { cipherWarnings, oldVersionsWarning } from './cipher-policy.js';
import { clientCrlWarnings } from './client-crl.js';

/** Days before its end from which a certificate in use is warned about. */
const EXPIRY_WARNING_DAYS = 30;

interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * What an operator must hear of the TLS settings at start and at a reload, one line each: the
 * certificate files' problems, a cipher list that leaves TLS 1.2 clients nothing, TLS 1.0/1.1, odd
 * client CRLs. Ferry serves
 * all the same (the operator may be replacing a file).
 */
export async function tlsWarnings(
  t: {
    certificates?: readonly CertificateFiles[];
    ciphers?: string;
    minVersion?: tls.SecureVersion;
    clientCaFiles?: readonly string[];
    clientCrlFiles?: readonly string[];
  },
  now = Date.now(),
): Promise<string[]> {
  const files = t.certificates ?? [];
  const out: string[] = [];
  const keyTypes: string[] = files.length === 0 ? ['rsa'] : []; // the generated certificate's
  for (const f of files) {
    const chain = await readChain(f.certFile);
    if (!chain) continue; // loading the certificates says what is wrong with the file
    keyTypes.push(chain.leaf.publicKey.asymmetricKeyType ?? 'rsa');
    out.push(...(await certificateWarnings(f, chain, now)));
  }
  const minVersion = t.minVersion ?? 'TLSv1.2';
  out.push(...cipherWarnings(t.ciphers, minVersion, keyTypes));
  const old = oldVersionsWarning(minVersion);
  if (old) out.push(old);
  out.push(...(await clientCrlWarnings(t.clientCaFiles ?? [], t.clientCrlFiles ?? [], now)));
  return out;
}

interface Chain {
  readonly leaf: X509Certificate;
  /** The certificates after the leaf (intermediates; a root maybe). */
  readonly rest: readonly X509Certificate[];
}

async function readChain(certFile: string): Promise<Chain | undefined> {
  try {
    const [leaf, ...rest] = certificateBlocks(await readFile(certFile, 'utf8')).map(
      (b) => new X509Certificate(b),
    );
    return leaf && { leaf, rest };
  } catch {
    return undefined;
  }
}

/**
 * One pair's problems that clients refuse it for: dates (every certificate in the file), a weak
 * key, a missing intermediate; and a key file others can read.
 */
async function certificateWarnings(f: CertificateFiles, chain: Chain, now: number): Promise<string[]> {
  const out: string[] = [];
  const dates = datesWarning(chain.leaf, `the certificate ${f.certFile}`, now);
  if (dates) out.push(dates);
  for (const c of chain.rest) {
    const w = datesWarning(c, `the intermediate "${oneLine(c.subject)}" in ${f.certFile}`, now);
    if (w) out.push(w);
  }
  const weak = weakKey(chain.leaf);
  if (weak)
    out.push(
      `the certificate ${f.certFile} has ${weak}: clients refuse it (curl: "EE certificate key too weak"); use RSA-2048 or ECDSA P-256`,
    );
  if (missingIssuer(chain))
    out.push(
      `the certificate ${f.certFile} is issued by "${oneLine(chain.leaf.issuer)}", neither in the file nor a root Node knows: if it is an intermediate CA, append it to the certificate file (clients need it); if it is your own root CA, do not append it (clients never take a root from the server): clients must trust that CA themselves (curl --cacert, lftp ssl:ca-file, ferry --ca)`,
    );
  const readers = await otherReaders(f.keyFile);
  if (readers)
    out.push(
      `the key ${f.keyFile} is readable by ${readers}: make it private (chmod 600, or 640 for a group such as the service user's), like an ssh key`,
    );
  return out;
}

/** Expired, not valid yet, or ending within 30 days: clients refuse the first two. */
function datesWarning(cert: X509Certificate, what: string, now: number): string | undefined {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (to < now) return `${what} expired on ${cert.validTo}: clients will refuse it`;
  if (from > now) return `${what} is not valid before ${cert.validFrom}: clients will refuse it`;
  if (to - now < EXPIRY_WARNING_DAYS * 86_400_000)
    return `${what} expires in ${Math.ceil((to - now) / 86_400_000)} days (${cert.validTo})`;
  return undefined;
}

/** An RSA key under 2048 bits or an EC key under 256, as "a 1024-bit RSA key". */
function weakKey(cert: X509Certificate): string | undefined {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = details?.modulusLength;
    return bits !== undefined && bits < 2048 ? `a ${bits}-bit RSA key` : undefined;
  }
  if (key.asymmetricKeyType === 'ec') {
    // Every named curve's name carries its size: prime192v1, secp224r1, brainpoolP160r1, sect163k1.
    const curve = details?.namedCurve ?? '';
    const bits = Number(/\d{3}/.exec(curve)?.[0]);
    return bits < 256 ? `a ${bits}-bit EC key (${curve})` : undefined;
  }
  return undefined;
}

let roots: readonly X509Certificate[] | undefined;

/**
 * Whether the leaf's issuer is neither in the file nor among Node's bundled roots: clients that
 * lack it cannot build the chain. (What issued an intermediate is the client's to trust.)
 */
function missingIssuer({ leaf, rest }: Chain): boolean {
  if (issued(leaf, leaf) || rest.some((c) => issued(leaf, c))) return false;
  roots ??= tls.rootCertificates.map((pem) => new X509Certificate(pem));
  return !roots.some((r) => issued(leaf, r));
}

/** Names first (cheap), then the signature. */
function issued(cert: X509Certificate, by: X509Certificate): boolean {
  return cert.issuer === by.subject && cert.verify(by.publicKey);
}

/**
 * "others (mode 0644)" when every account may read the file. Not for the group: `chgrp ferry key;
 * chmod 640` is how a root-owned key is shared with the service user (README, Running as a service),
 * as Debian's ssl-cert group does.
 */
async function otherReaders(file: string): Promise<string | undefined> {
  const mode = await stat(file).then(
    (s) => s.mode,
    () => 0,
  );
  return mode & 0o004 ? `others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})` : undefined;
}

/** X509Certificate's names have a line per attribute. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}
