import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
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
  /** Why the certificate is not valid now (before notBefore, after notAfter), or undefined. */
  readonly invalidNow: string | undefined;
  /** Why it does not chain to a configured client CA (undefined: it does, all dates valid). */
  readonly untrusted: string | undefined;
}

/** Extended key usages that allow a client certificate (TLS client auth, or any). */
const CLIENT_AUTH = ['1.3.6.1.5.5.7.3.2', '2.5.29.37.0'];
const MAX_CHAIN = 8;

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
 * The certificate the peer of `sock` presented, checked against `cas` (the trusted client CAs) at
 * `now`; undefined when it presented none.
 */
export function peerCertificate(
  sock: tls.TLSSocket,
  cas: readonly X509Certificate[],
  now = Date.now(),
): PeerCertificate | undefined {
  // Not getPeerX509Certificate(): on a server socket, calling it makes later getPeerCertificate(true)
  // calls lose the intermediates (Node 20), and USER and PASS each look.
  const detailed = sock.getPeerCertificate(true);
  if (!detailed?.raw) return undefined;
  const leaf = new X509Certificate(detailed.raw);
  return {
    fingerprint: leaf.fingerprint256,
    commonName: commonNameOf(leaf),
    invalidNow: datesProblem(leaf, now),
    untrusted: chainProblem(leaf, presentedChain(detailed), cas, now),
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

/** The intermediates the client sent after its own certificate. */
function presentedChain(leaf: tls.DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: tls.DetailedPeerCertificate | undefined = leaf;
  for (let i = 0; c?.raw && i < MAX_CHAIN; i++) {
    const next: tls.DetailedPeerCertificate | undefined = c.issuerCertificate;
    if (!next?.raw || next === c) break;
    out.push(new X509Certificate(next.raw));
    c = next;
  }
  return out;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Why `leaf` does not chain (through the client's intermediates) to one of `cas`, with every
 * certificate on the way valid now; undefined when it does.
 */
export function chainProblem(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  cas: readonly X509Certificate[],
  now: number,
): string | undefined {
  if (cas.length === 0) return 'no client CA is configured';
  if (cas.some((ca) => ca.fingerprint256 === leaf.fingerprint256)) return 'it is a CA certificate itself';
  const usage = leaf.keyUsage;
  if (usage && usage.length > 0 && !usage.some((u) => CLIENT_AUTH.includes(u))) {
    return 'its extended key usage does not allow client authentication';
  }
  let cert = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const dates = datesProblem(cert, now);
    if (dates) return depth === 0 ? dates : `${cert.subject.replace(/\n/g, ', ')}: ${dates}`;
    const anchor = cas.find((ca) => issuedBy(cert, ca));
    if (anchor) {
      const caDates = datesProblem(anchor, now);
      return caDates && `client CA ${anchor.subject.replace(/\n/g, ', ')}: ${caDates}`;
    }
    const next = intermediates.find((i) => i !== cert && issuedBy(cert, i));
    if (!next) return `not issued by a configured client CA (issuer ${cert.issuer.replace(/\n/g, ', ')})`;
    cert = next;
  }
  return 'certificate chain too long';
}
