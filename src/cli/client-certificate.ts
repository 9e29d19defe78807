import { readFile } from 'node:fs/promises';
import { FerryError } from '../errors.js';

/** `--cert` and `--key`: a client certificate (PEM) and its key, for servers that ask for one. */
export interface ClientCertificate {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** --cert and --key, read; both or neither. */
export async function clientCertificateOf(o: {
  readonly cert?: string;
  readonly key?: string;
}): Promise<ClientCertificate | undefined> {
  if (o.cert === undefined && o.key === undefined) return undefined;
  if (o.cert === undefined || o.key === undefined) {
    throw new FerryError('ERR_USAGE', 'Give --cert and --key together (the client certificate and its key).');
  }
  return { cert: await readFlagFile('cert', o.cert), key: await readFlagFile('key', o.key) };
}

async function readFlagFile(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new FerryError('ERR_USAGE', `Cannot read --${flag} ${file}: ${(err as Error).message}`);
  }
}
