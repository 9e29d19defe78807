import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { FerryError } from '../errors.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * The PEM file of `--ca`. Node's TLS skips what it cannot read in a CA list without a word, so a
 * wrong file (a key, a DER file, /etc/hostname) trusted nothing and the connection then failed as
 * untrusted: a file without a certificate, or with one that cannot be read, is refused up front (as
 * curl does).
 */
export async function readCaFile(file: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    throw new FerryError('ERR_USAGE', `Cannot read --ca ${file}: ${(err as Error).message}`);
  }
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0)
    throw new FerryError('ERR_USAGE', `--ca ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new FerryError(
        'ERR_USAGE',
        `--ca ${file}: certificate ${i + 1} cannot be read: ${(err as Error).message}`,
      );
    }
  }
  return pem;
}
