import { X509Certificate } from 'node:crypto';

/**
 * CA certificates given as PEM (the `ca` option, `--ca FILE`). Node's TLS skips what it cannot read
 * in a CA list without a word, so a wrong one (a key, a DER file, /etc/hostname) trusted nothing, or
 * the system CAs, and the connection then failed as untrusted: such a CA is refused up front, as
 * curl refuses it. Only node:crypto here: the probe's bundle reads it too.
 */

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The PEM certificate blocks of a text (a CA bundle may have other text around them). */
export function pemCertificates(pem: string | Buffer): string[] {
  return (typeof pem === 'string' ? pem : pem.toString('latin1')).match(PEM_CERTIFICATE) ?? [];
}

/**
 * What is wrong with `pem` as CA certificates, as a sentence about `what` (`--ca FILE`,
 * `options.ca`), or undefined when it holds certificates and each one reads.
 */
export function caProblem(pem: string | Buffer, what: string): string | undefined {
  const blocks = pemCertificates(pem);
  if (blocks.length === 0) return `${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`;
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `${what}: certificate ${i + 1} cannot be read: ${(err as Error).message}`;
    }
  }
  return undefined;
}
