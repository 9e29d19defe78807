import { execFileSync } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import { lchown, lstat, open, type FileHandle } from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { isMade, type DataDirClaim } from './data-dir-claim.js';

/** A system account as the name service (getent) knows it. */
export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Looks `name` (or a numeric uid) up with getent, so that NSS users (LDAP, systemd) work too. */
export function lookupUser(name: string, what: string): SystemUser {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    throw new FerryError('ERR_USAGE', `${what}: no such user "${name}".`);
  }
  const [user, , uid, gid, , home] = line.split(':');
  if (!user || uid === undefined || gid === undefined) {
    throw new FerryError('ERR_USAGE', `${what}: cannot read the account of "${name}".`);
  }
  return { name: user, uid: Number(uid), gid: Number(gid), home: home || '/' };
}

/**
 * Serving as root is refused unless the operator says so: with `runAs` the process binds its ports
 * as root and then becomes that user; `allowRoot` keeps root (containers that need it).
 */
export function checkRootPolicy(runAs: SystemUser | undefined, allowRoot: boolean, what: string): void {
  if (runAs && !isRoot() && process.getuid?.() !== runAs.uid) {
    throw new FerryError(
      'ERR_USAGE',
      `${what}: only root can become "${runAs.name}" (this process is uid ${process.getuid?.()}).`,
    );
  }
  if (isRoot() && !runAs && !allowRoot) {
    throw new FerryError(
      'ERR_USAGE',
      'Refusing to serve as root: give --run-as USER (config runAs) to drop privileges once the ports are bound, or --allow-root to serve as root anyway.',
    );
  }
}

/**
 * Gives the run-as user what Ferry keeps up to date after the drop: `files` (its own state files in
 * the data directory) and the data directory when this start made it (`dataDir.made`), and only if it
 * is still that directory, as made (another's that took its place stays theirs). Nothing else:
 * the directory may hold the operator's files (/etc/ferry), and the run-as user may have put links
 * there (a link to a root-only file would be given away). So each is opened without following a
 * link and given away through its descriptor (fchown), and only when it is a directory or a regular
 * file with no other name (a hard link to a root file is that file). The control socket cannot be
 * opened: lchown, which does not follow a link either.
 */
export async function handOver(
  files: readonly string[],
  dataDir: DataDirClaim | undefined,
  user: SystemUser,
): Promise<void> {
  if (!isRoot()) return;
  const made = dataDir?.made;
  if (dataDir && made) await giveAway(dataDir.dir, constants.O_DIRECTORY, user, (st) => isMade(st, made));
  for (const file of files) {
    const st = await lstat(file).catch(() => undefined);
    if (!st || st.uid === user.uid) continue;
    if (st.isSocket()) await lchown(file, user.uid, user.gid);
    else if (st.isFile())
      await giveAway(file, constants.O_NONBLOCK, user, (s) => s.isFile() && s.nlink === 1);
  }
}

/** Checked on the open descriptor (`ours`), so that what is given is what was checked. */
async function giveAway(
  file: string,
  flags: number,
  user: SystemUser,
  ours: (st: Stats) => boolean,
): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | flags);
  } catch {
    return; // gone, or a link (ELOOP): not Ferry's to give
  }
  try {
    const st = await handle.stat();
    if (ours(st)) await handle.chown(user.uid, user.gid);
  } finally {
    await handle.close();
  }
}

/** The user's groups (primary and supplementary) as `id -G` lists them. */
function groupsOf(user: SystemUser): number[] {
  try {
    const ids = execFileSync('id', ['-G', user.name], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    return ids.filter((n) => Number.isInteger(n));
  } catch {
    return [user.gid];
  }
}

/** Becomes `user` for good: supplementary groups, group, then user (the order setuid needs). */
export function dropPrivileges(user: SystemUser): void {
  if (!isRoot()) return;
  process.setgroups?.(groupsOf(user));
  process.setgid?.(user.gid);
  process.setuid?.(user.uid);
  if (process.getuid?.() !== user.uid || process.getgid?.() !== user.gid) {
    throw new FerryError('ERR_USAGE', `Could not become "${user.name}".`);
  }
}
