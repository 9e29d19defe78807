import { open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectory } from './auth/file-owner.js';
import { FerryError } from './errors.js';

/**
 * Runs `fn` holding `<file>.lock` (created exclusively; waits up to 10 s for another holder; a lock
 * older than 60 s is stale), so that processes editing `file` at once do not lose each other's change.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  await makeDirectory(path.dirname(path.resolve(file)));
  const held = await acquire(lock);
  try {
    return await fn();
  } finally {
    await held.close();
    await unlink(lock).catch(() => {});
  }
}

async function acquire(lock: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await open(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await unlink(lock).catch(() => {});
      else if (Date.now() > deadline) {
        throw new FerryError('ERR_BUSY', `${lock} exists: another process holds it (or remove it).`);
      } else await new Promise((r) => setTimeout(r, 50));
    }
  }
}
