import { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import { FerryError } from '../errors.js';

/**
 * The certificate a client presented on a control connection's TLS session, as Ferry checked it.
 * The server asks every client for one (requestCert) but never refuses a handshake over it
 * (rejectUnauthorized false): whether it logs anyone in is the authenticator's decision.
 */
export interface PeerCertificate {
  /** SHA-256 of the DER, `AA:BB:…` (what `openssl x509 -fingerprint -sha256` prints). */
  readonly fingerprint: string;
  /** The subject's common name (CN), if it has one. */
  readonly commonName: string | undefined;
  /** The whole subject on one line (`O=Example, CN=laptop`), for the log. */
  readonly subject: string;
  /** Why the certificate is not valid now (before notBefore, after notAfter), or undefined. */
  readonly invalidNow: string | undefined;
  /**
   * Why it may not log anyone in as a configured client CA's (OpenSSL's path validation failed, it
   * is a CA's own, no CA is configured); undefined: it may, its dates valid.
   */
  readonly untrusted: string | undefined;
}

/** The CA certificates in a PEM bundle; throws naming `file` when one is missing or not a CA. */
export function parseClientCas(pem: string, file: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new FerryError('ERR_INVALID_OPTION', `${file}: no PEM certificate in it.`);
  return blocks.map((b) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(b);
    } catch (err) {
      throw new FerryError('ERR_INVALID_OPTION', `${file}: not a certificate: ${(err as Error).message}`);
    }
    if (!cert.ca) {
      throw new FerryError('ERR_INVALID_OPTION', `${file}: ${cert.subject} is not a CA certificate.`);
    }
    return cert;
  });
}

/**
 * The certificate the peer of `sock` presented, with OpenSSL's verdict on its chain (the session's
 * context trusts the configured client CAs, `cas`, and their CRLs: tls/certificates.ts); undefined
 * when it presented none. `now` is for the leaf's dates, which pinned certificates need too.
 */
export function peerCertificate(
  sock: tls.TLSSocket,
  cas: readonly X509Certificate[],
  now = Date.now(),
): PeerCertificate | undefined {
  const leaf = sock.getPeerX509Certificate();
  if (!leaf) return undefined;
  const invalidNow = datesProblem(leaf, now);
  return {
    fingerprint: leaf.fingerprint256,
    commonName: commonNameOf(leaf),
    subject: leaf.subject.split('\n').join(', '),
    invalidNow,
    untrusted: trustProblem(leaf, cas, verifyErrorOf(sock), invalidNow),
  };
}

function commonNameOf(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

function datesProblem(cert: X509Certificate, now: number): string | undefined {
  if (Date.parse(cert.validFrom) > now) return `not valid before ${cert.validFrom}`;
  if (Date.parse(cert.validTo) < now) return `expired ${cert.validTo}`;
  return undefined;
}

/**
 * OpenSSL's verdict on the chain the peer presented (path length, name constraints, critical
 * extensions, purpose, dates, revocation): null when it verified. Node sets `authorized` and
 * `authorizationError` only on a tls.Server's own sockets, not on ours (over a SessionPipe).
 */
function verifyErrorOf(sock: tls.TLSSocket): (Error & { code?: string }) | null {
  const handle = (
    sock as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } | null }
  )._handle;
  if (!handle?.verifyError) return new Error('the TLS session has ended');
  return handle.verifyError();
}

/** OpenSSL found no configured CA above the certificate (or none above an intermediate it sent). */
const NO_ISSUER = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

/** Why a certificate OpenSSL verified (or not) may not log anyone in as a CA's; undefined: it may. */
function trustProblem(
  leaf: X509Certificate,
  cas: readonly X509Certificate[],
  verifyError: (Error & { code?: string }) | null,
  invalidNow: string | undefined,
): string | undefined {
  // Without a `ca`, a context trusts Node's public root CAs: none of them may vouch for a user.
  if (cas.length === 0) return 'no client CA is configured';
  // A CA's certificate (one of ours, or an intermediate) is not a user's, whatever its key usage.
  if (leaf.ca) return 'it is a CA certificate itself';
  if (!verifyError) return invalidNow; // the dates at USER, not only at the handshake
  const code = verifyError.code ?? '';
  if (NO_ISSUER.has(code)) {
    return `not issued by a configured client CA (issuer ${leaf.issuer.replace(/\n/g, ', ')})`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return invalidNow ?? `a certificate on its chain: ${verifyError.message} (${code})`;
  }
  // Node names some of OpenSSL's reasons UNSPECIFIED (a name constraint violated): the text says it.
  const named = code && code !== 'UNSPECIFIED' ? ` (${code})` : '';
  return `refused by OpenSSL's path validation: ${verifyError.message}${named}`;
}
