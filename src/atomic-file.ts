import { randomBytes } from 'node:crypto';
import { lstat, open, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
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
  /**
   * Asked just before the rename: false leaves `file` as it is (the temp file removed) and the
   * write resolves false. For a read-change-write whose file someone may have changed meanwhile.
   */
  readonly stillCurrent?: () => Promise<boolean>;
}

/**
 * Replaces `file` atomically: readers see the old text or the new one, never a part. The text goes
 * to a new temp file beside it (created exclusively, so never through a link), is fsynced and
 * renamed over `file`; then the directory is fsynced. Missing directories are made (0700). A `file`
 * that is a symbolic link of root's or this user's has its target replaced (the temp file beside
 * the target): the link stays.
 */
export async function writeAtomically(
  file: string,
  text: string,
  o: AtomicWriteOptions = {},
): Promise<boolean> {
  try {
    return await replace(file, text, o);
  } catch (err) {
    throw naming(file, err);
  }
}

/**
 * `err` with `file` named first: a write's ENOSPC names no file (`ENOSPC: no space left on
 * device, write`), and `ferry users add` or a first `ferry serve` printed only that. Its code is
 * kept for the callers that test it; the system error is its cause.
 */
function naming(file: string, err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof FerryError || err.message.includes(file)) return err;
  const named: NodeJS.ErrnoException = new Error(`${file}: ${err.message}`, { cause: err });
  const { code } = err as NodeJS.ErrnoException;
  if (code !== undefined) named.code = code;
  return named;
}

async function replace(file: string, text: string, o: AtomicWriteOptions): Promise<boolean> {
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
    if (o.stillCurrent && !(await o.stillCurrent())) {
      await unlink(tmp);
      return false;
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
  return true;
}

/**
 * The file a write of `file` replaces: `file`, or through its symbolic links (an admin's `ln -s
 * /etc/ferry/users.yaml`) the one they name, existing or not. Only a link made by this user or
 * root, in a directory only they can change, is followed: any other (the runAs user's, or one in
 * its data directory, which it could swap between the check and the write) is itself replaced, so
 * `sudo ferry users` or a root server never writes through it, and cannot be kept from writing.
 */
async function linkTarget(file: string): Promise<string> {
  let at = path.resolve(file);
  for (let hops = 0; ; hops++) {
    const st = await lstat(at).catch(() => undefined);
    if (!st?.isSymbolicLink() || !ours(st) || !(await safeDirectory(path.dirname(at)))) return at;
    if (hops === 40) throw new FerryError('ERR_INVALID_OPTION', `${file}: too many symbolic links`);
    // As the kernel resolves it: relative to the real directory (its path may pass through a link).
    at = path.resolve(await realpath(path.dirname(at)), await readlink(at));
  }
}

const ours = (st: { uid: number }): boolean => st.uid === 0 || st.uid === process.geteuid?.();

/**
 * A directory where nobody else can swap a link between its check and its use (the kernel's
 * protected_symlinks rule, for the directory): root's or this user's, writable by neither group
 * nor others. A run-as user's data directory is not: a link there is replaced, never followed.
 */
async function safeDirectory(dir: string): Promise<boolean> {
  const st = await stat(dir).catch(() => undefined);
  return st !== undefined && ours(st) && (st.mode & 0o022) === 0;
}
