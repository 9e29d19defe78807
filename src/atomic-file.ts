import { randomBytes } from 'node:crypto';
import { lstat, open, readlink, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { inheritedOwner, makeDirectory, type Owner } from './auth/file-owner.js';
import { FerryError } from './errors.js';

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
 * renamed over `file`; then the directory is fsynced. Missing directories are made (0700). A `file`
 * that is a symbolic link of root's or this user's has its target replaced (the temp file beside
 * the target): the link stays.
 */
export async function writeAtomically(file: string, text: string, o: AtomicWriteOptions = {}): Promise<void> {
  const target = await linkTarget(file);
  const dir = path.dirname(target);
  await makeDirectory(dir);
  const owner = (o.keepOwner ?? true) ? await inheritedOwner(target, o.newOwner) : undefined;
  const tmp = path.join(
    dir,
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const fh = await open(tmp, 'wx', o.mode ?? 0o600);
  try {
    try {
      if (owner) await fh.chown(owner.uid, owner.gid);
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename itself durable (best effort: some filesystems refuse fsync on a directory).
  const d = await open(dir, 'r').catch(() => undefined);
  await d?.sync().catch(() => {});
  await d?.close();
}

/**
 * The file a write of `file` replaces: `file`, or through its symbolic links (an admin's `ln -s
 * /etc/ferry/users.yaml`) the one they name, existing or not. Only links made by this user or root
 * are followed (as the kernel's protected_symlinks): a link anyone else made (the runAs user, in
 * its data directory) is itself replaced, so `sudo ferry users` or a root server never writes
 * through it, and cannot be kept from writing either.
 */
async function linkTarget(file: string): Promise<string> {
  let at = path.resolve(file);
  for (let hops = 0; ; hops++) {
    const st = await lstat(at).catch(() => undefined);
    if (!st?.isSymbolicLink() || (st.uid !== 0 && st.uid !== process.geteuid?.())) return at;
    if (hops === 40) throw new FerryError('ERR_INVALID_OPTION', `${file}: too many symbolic links`);
    at = path.resolve(path.dirname(at), await readlink(at));
  }
}
