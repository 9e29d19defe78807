import { readFile } from 'node:fs/promises';
import { caProblem } from '../client/ca-certificates.js';
import { FerryError } from '../errors.js';

/**
 * The PEM file of `--ca`: one that cannot be read, or without a certificate that reads
 * (ca-certificates.ts), is a usage error before anything connects.
 */
export async function readCaFile(file: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    throw new FerryError('ERR_USAGE', `Cannot read --ca ${file}: ${(err as Error).message}`);
  }
  const problem = caProblem(pem, `--ca ${file}`);
  if (problem !== undefined) throw new FerryError('ERR_USAGE', problem);
  return pem;
}
