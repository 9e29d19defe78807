import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { inheritedOwner, makeDirectory, type Owner } from './auth/file-owner.js';

export interface AtomicWriteOptions {
  /** The new file's mode (default 0600: most of Ferry's files hold secrets). */
  readonly mode?: number;
  /**
   * Written by root, the file keeps the owner of the one it replaces, else its directory's (default
   * true): `sudo ferry users …` must not take a file away from a server running as its runAs user.
   */
  readonly keepOwner?: boolean;
  /** With keepOwner: the owner a new file (none to replace) gets instead of its directory's. */
  readonly newOwner?: Owner;
}

/**
 * Replaces `file` atomically: readers see the old text or the new one, never a part. The text goes
 * to a new temp file beside it (created exclusively, so never through a link), is fsynced and
 * renamed over `file`; then the directory is fsynced. Missing directories are made (0700).
 */
export async function writeAtomically(file: string, text: string, o: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await makeDirectory(dir);
  const owner = (o.keepOwner ?? true) ? await inheritedOwner(file, o.newOwner) : undefined;
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', o.mode ?? 0o600);
  try {
    try {
      if (owner) await fh.chown(owner.uid, owner.gid);
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename itself durable (best effort: some filesystems refuse fsync on a directory).
  const d = await open(dir, 'r').catch(() => undefined);
  await d?.sync().catch(() => {});
  await d?.close();
}
