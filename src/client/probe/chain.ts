import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';

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
