import { readFile } from 'node:fs/promises';
import * as tls from 'node:tls';
import { FerryError } from '../errors.js';

/**
 * CRLs that revoke client certificates (`--client-crl`, `clientCertificates.crl`): OpenSSL checks
 * them on every client chain (tls/certificates.ts puts them in the secure context).
 */

export function crlBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
}

/** Throws naming the file when one holds no CRL or one OpenSSL cannot parse. */
export function checkClientCrls(crls: readonly { file: string; pem: string }[]): void {
  for (const { file, pem } of crls) {
    const blocks = crlBlocks(pem);
    if (blocks.length === 0) throw new FerryError('ERR_INVALID_OPTION', `${file}: no PEM CRL in it.`);
    for (const [i, crl] of blocks.entries()) {
      try {
        tls.createSecureContext({ crl });
      } catch (err) {
        throw new FerryError(
          'ERR_INVALID_OPTION',
          `${file}: CRL ${i + 1} is not a CRL OpenSSL can read (${(err as Error).message}).`,
        );
      }
    }
  }
}

/**
 * What an operator must hear of the client CRLs: one that no configured CA issued (it revokes
 * nothing, unless an intermediate clients send issued it), one past its nextUpdate, a CA without a
 * CRL. With any CRL, OpenSSL wants a current one for every CA on a chain (as nginx's ssl_crl), so
 * the last two refuse all of a CA's certificates. Files that cannot be read are left to load().
 */
export async function clientCrlWarnings(
  caFiles: readonly string[],
  crlFiles: readonly string[],
  now = Date.now(),
): Promise<string[]> {
  if (crlFiles.length === 0) return [];
  // Loaded only with CRLs configured: the library costs every process ~20 MB of RSS.
  const x509 = await import('@peculiar/x509');
  const read = async (file: string): Promise<string> => readFile(file, 'utf8').catch(() => '');
  const cas: { file: string; subject: string; issuer: string }[] = [];
  for (const file of caFiles) {
    const blocks = (await read(file)).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    for (const b of blocks ?? []) {
      const { subject, issuer } = new x509.X509Certificate(b);
      cas.push({ file, subject, issuer });
    }
  }
  const out: string[] = [];
  const covered = new Set<string>();
  for (const file of crlFiles) {
    for (const block of crlBlocks(await read(file))) {
      const crl = new x509.X509Crl(block);
      covered.add(crl.issuer);
      if (!cas.some((c) => c.subject === crl.issuer)) {
        out.push(
          `the client CRL in ${file} is issued by ${crl.issuer}, which is not a configured client CA: ` +
            `it revokes nothing, unless that is an intermediate CA that clients send`,
        );
      }
      if (crl.nextUpdate && crl.nextUpdate.getTime() < now) {
        out.push(
          `the client CRL in ${file} (${crl.issuer}) is out of date since ${crl.nextUpdate.toISOString()}: ` +
            `no certificate of that CA logs in until a current one replaces it`,
        );
      }
    }
  }
  for (const ca of cas) {
    // A configured intermediate is checked against its own issuer's CRL too.
    for (const issuer of new Set([ca.subject, ca.issuer])) {
      if (covered.has(issuer)) continue;
      out.push(
        `the client CA ${ca.subject} (${ca.file}) needs a CRL from ${issuer} in the client CRL files: ` +
          `with CRLs, every certificate on a client's chain is checked, so none of its certificates logs in`,
      );
    }
  }
  return out;
}
