import { execFileSync } from 'node:child_process';
import { chown, readdir } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../errors.js';

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
 * Gives `dir` and what it holds (the generated certificate, the users file, bans, the control
 * socket) to the run-as user, so that it can keep them up to date after the drop. Not recursive:
 * nothing deeper is Ferry's.
 */
export async function handOver(dir: string, user: SystemUser): Promise<void> {
  if (!isRoot()) return;
  await chown(dir, user.uid, user.gid);
  for (const name of await readdir(dir)) await chown(path.join(dir, name), user.uid, user.gid);
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
