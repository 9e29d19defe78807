import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * `<dataDir>/serving`: written once the server serves, removed when it stops cleanly. Found at a
 * start, it tells that the last server there died (kill -9, a crash, the power): what it had not
 * recorded yet (quota usage) is counted again.
 */
export function servingMarkOf(dataDir: string): string {
  return path.join(dataDir, 'serving');
}

/** Marks the data directory served by this process; true when the last server's stop was not clean. */
export async function markServing(dataDir: string): Promise<boolean> {
  const file = servingMarkOf(dataDir);
  const left = await readFile(file, 'utf8').then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== 'ENOENT', // unreadable: taken as left there
  );
  await writeFile(file, `${process.pid}\n`, { mode: 0o644 });
  return left;
}

/** A clean stop: the next start finds no mark. */
export async function unmarkServing(dataDir: string): Promise<void> {
  await unlink(servingMarkOf(dataDir)).catch(() => {});
}
