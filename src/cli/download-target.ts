import { stat } from 'node:fs/promises';
import path from 'node:path';
import { LocalError } from '../client/errors.js';

/**
 * Where `ferry get URL [LOCAL]` writes (LOCAL defaults to the remote file's name): LOCAL, or the
 * remote file's name in it when it is a directory. A LOCAL ending in `/` names a directory: when
 * there is none, that is the error (ENOENT), not the EISDIR of opening `nolocal/` as a file.
 */
export async function downloadTarget(local: string, name: string): Promise<string> {
  const found = await stat(local).catch((err: NodeJS.ErrnoException) => err);
  if (!(found instanceof Error)) return found.isDirectory() ? path.join(local, name) : local;
  if (found.code === 'ENOENT' && /[/\\]$/.test(local)) {
    const missing = Object.assign(new Error(`ENOENT: the local directory ${local} does not exist`), {
      code: 'ENOENT',
    });
    throw new LocalError(missing);
  }
  return local;
}
