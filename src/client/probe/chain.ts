import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { pemCertificates } from '../ca-certificates.js';
import { NO_TRUSTED_ISSUER, OUT_OF_DATE } from '../certificate-faults.js';
import { point, type ProbePoint } from './types.js';

/**
 * The certificate chain as trusted or not, and why; nothing else. The host name and the validity
 * of the certificate itself are points of their own (certificate-name, certificate-expiry), so
 * the handshake judged here skips the name check, and an expired but trusted certificate passes.
 */

const PIN = 'clients must pin it (--fingerprint) or trust it on first use';

/** The chain as Node gives it, leaf first, each certificate once (Node repeats a self-signed one). */
export function chainOf(peer: tls.DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = peer; c?.raw && out.length < 10;) {
    if (seen.has(c.fingerprint256)) break;
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

function anchorsFrom(ca: Buffer | undefined): X509Certificate[] {
  return (ca ? pemCertificates(ca) : tls.rootCertificates).map((p) => new X509Certificate(p));
}

const signedBy = (c: X509Certificate, by: X509Certificate): boolean =>
  c.checkIssued(by) && c.verify(by.publicKey);

/** Each certificate is signed by the next, up to one of `anchors` (validity not looked at). */
function anchored(chain: readonly X509Certificate[], anchors: readonly X509Certificate[]): boolean {
  for (const [i, c] of chain.entries()) {
    if (anchors.some((a) => a.fingerprint256 === c.fingerprint256 || signedBy(c, a))) return true;
    const next = chain[i + 1];
    if (!next || !signedBy(c, next)) return false;
  }
  return false;
}

const outOfDate = (c: X509Certificate, now: number): boolean =>
  now > Date.parse(c.validTo) || now < Date.parse(c.validFrom);

const cn = (name: string): string => /CN=([^\n]*)/.exec(name)?.[1] ?? name.replace(/\n/g, ', ');

const selfIssued = (c: X509Certificate): boolean => c.subject === c.issuer && signedBy(c, c);

/**
 * `served`: the certificates the server sent (see certificate.ts's sentChain), counted; undefined
 * when unknown, then the chain Node built is counted (it adds the trust anchor from the store).
 */
export function chainPoint(
  sock: tls.TLSSocket,
  ca: Buffer | undefined,
  served?: readonly X509Certificate[],
): ProbePoint {
  const id = 'certificate-chain';
  const title = 'Certificate chain trusted';
  const sent = `verify against ${ca ? 'the given CA file' : 'the system CAs'}`;
  const chain = chainOf(sock.getPeerCertificate(true));
  const count = served
    ? `${served.length} certificate(s) sent`
    : `${chain.length} certificate(s) in the chain`;
  // A root sent after the leaf is no use (a client trusts it already, or never will): bytes wasted.
  const root = served?.slice(1).findLast(selfIssued);
  const waste = root
    ? `the server sends its root certificate (${cn(root.subject)}) too: clients never use it, it is ${root.raw.length} bytes wasted on every handshake`
    : undefined;
  if (sock.authorized) return point(id, title, sent, `${count}; trusted`, 'pass', waste);
  const code = String(sock.authorizationError ?? 'not verified');
  const leaf = chain[0];
  const fail = (detail?: string): ProbePoint => point(id, title, sent, `${count}; ${code}`, 'fail', detail);
  const next = (served ?? chain)[1];
  // Not anchored: a CA-issued leaf sent alone is missing its intermediate, which no pin on the client
  // should hide (expired or not: the expiry is certificate-expiry's); otherwise, advise pinning.
  const untrusted = (why: string): ProbePoint =>
    leaf && leaf.subject !== leaf.issuer && !(next && signedBy(leaf, next))
      ? fail(
          `chain incomplete: the server sent no issuer for its certificate (issuer ${cn(leaf.issuer)}); it must send its intermediate certificate(s)`,
        )
      : fail(`${why}; ${PIN}; subject ${cn(leaf?.subject ?? '?')}, issuer ${cn(leaf?.issuer ?? '?')}`);
  if (NO_TRUSTED_ISSUER.has(code))
    return untrusted(code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ? 'self-signed' : 'no trusted issuer');
  if (!OUT_OF_DATE.has(code) || !leaf) return fail();
  if (!anchored(chain, anchorsFrom(ca)))
    return untrusted(
      chain.length === 1 && leaf.subject === leaf.issuer ? 'self-signed' : 'no trusted issuer',
    );
  const now = Date.now();
  const stale = chain.slice(1).filter((c) => outOfDate(c, now));
  if (stale.length > 0)
    return fail(`issuer outside its validity period: ${stale.map((c) => cn(c.subject)).join(', ')}`);
  return point(
    id,
    title,
    sent,
    `${count}; trusted`,
    'pass',
    [`the certificate itself is outside its validity period (${code}): see certificate-expiry`, waste]
      .filter((d) => d !== undefined)
      .join('; '),
  );
}
