import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from '../errors.js';
import { lookupUser, type SystemUser } from './run-as.js';

/**
 * The default data directory of a run-as user: ~/.ferry, but only in a home that is a directory of
 * its own. Debian's system users have /nonexistent (Ferry must not create it, as root), others /
 * or /usr/sbin (root's): there, --data-dir must say where.
 */
export async function runAsDataDir(user: SystemUser, what: string): Promise<string> {
  const st = await stat(user.home).catch(() => undefined);
  if (st?.isDirectory() && st.uid === user.uid) return path.join(user.home, '.ferry');
  const why = st ? `is not a directory of ${user.name}'s own` : 'does not exist';
  throw new FerryError(
    'ERR_USAGE',
    `${what}: the home of ${user.name}, ${user.home}, ${why}, and Ferry does not create it: give --data-dir DIR (config dataDir), a directory ${user.name} can write, for its certificate, users and bans.`,
  );
}

/** What a server running as the run-as user reads or writes again after the start. */
export interface RereadFiles {
  readonly config: string | undefined;
  readonly tlsFiles: readonly string[];
  /** The users file (not with PostgreSQL). */
  readonly usersFile: string | undefined;
  readonly dataDir: string;
}

/**
 * Run after the drop, as the run-as user (its groups and ACLs count): what it cannot read or write
 * that a SIGHUP, a certificate renewal, `ferry users` or a ban will need, each naming the file and
 * what will fail. Root read them all at the start, so nothing failed yet.
 */
export async function runAsWarnings(user: SystemUser, f: RereadFiles): Promise<string[]> {
  const out: string[] = [];
  const can = (p: string, mode: number): Promise<boolean> =>
    access(p, mode).then(
      () => true,
      () => false,
    );
  const { R_OK, W_OK, X_OK } = constants;
  if (f.config && !(await can(f.config, R_OK)))
    out.push(`${user.name} cannot read the config file ${f.config}: every reload (SIGHUP) will fail`);
  for (const file of f.tlsFiles)
    if (!(await can(file, R_OK)))
      out.push(
        `${user.name} cannot read ${file}: a reload (SIGHUP, a certificate renewal) keeps serving the certificate loaded now and applies the rest; a renewed certificate is served only after a restart, or once ${user.name} can read it (chgrp ${groupName(user.gid)} ${file}; chmod 640 ${file})`,
      );
  if (f.usersFile) {
    const dir = path.dirname(f.usersFile);
    const file = await stat(f.usersFile).catch(() => undefined);
    if (!(await can(dir, R_OK | X_OK)))
      out.push(`${user.name} cannot read ${dir}: changes to the users file (ferry users) will not be seen`);
    else if (file && !(await can(f.usersFile, R_OK)))
      out.push(
        `${user.name} cannot read the users file ${f.usersFile}: changes to it (ferry users) will not be loaded (${await unreadableHint(f.usersFile, user.name)})`,
      );
    else if (!file && (await stat(dir)).uid !== user.uid)
      // `ferry users` gives a new users file its directory's owner, mode 0600.
      out.push(
        `the users file ${f.usersFile} will be created by ferry users with the owner of ${dir}, not ${user.name}: make ${dir} ${user.name}'s, or its users will not be loaded`,
      );
  }
  if (f.usersFile) {
    const cannot = await usersDirWarning(user.name, f.usersFile);
    if (cannot) out.push(cannot);
  }
  const dataDir = await stat(f.dataDir).then(
    () => f.dataDir,
    () => path.dirname(f.dataDir),
  );
  if (!(await can(dataDir, W_OK | X_OK)))
    out.push(
      `${user.name} cannot write ${dataDir}: bans, quota usage and a generated certificate cannot be saved in the data directory ${f.dataDir}`,
    );
  return out;
}

/**
 * The server writes the users file's directory as well as reading it: an imported crypt hash is
 * replaced by scrypt at its user's login (a lock file, a temp file, a rename), and `ferry users`
 * run as the server's user does the same. Checked at start, as that user (its groups, ACLs, a
 * read-only mount: ProtectSystem=strict), so that it is said once rather than at every login.
 */
export async function usersDirWarning(serverUser: string, usersFile: string): Promise<string | undefined> {
  const dir = path.dirname(usersFile);
  const writable = await access(dir, constants.W_OK | constants.X_OK).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT', // made when first written
  );
  if (writable) return undefined;
  return `${serverUser} cannot write ${dir}, the users file's directory: crypt hashes (imported from vsftpd or ProFTPD) will not be upgraded to scrypt at login, and ferry users run as ${serverUser} will fail (a lock file, a temp file and a rename there): make it ${serverUser}'s, or keep the users file in the data directory`;
}

/** The user this process runs as (a uid with no name: `uid N`). */
export function currentUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.()}`;
  }
}

/** The name of a gid as the name service knows it, else the number. */
function groupName(gid: number): string {
  try {
    return execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0] || String(gid);
  } catch {
    return String(gid);
  }
}

/** The name of a uid as the name service knows it, else `uid N`. */
function nameOf(uid: number): string {
  try {
    return lookupUser(String(uid), 'owner').name;
  } catch {
    return `uid ${uid}`;
  }
}

/**
 * Why the server, running as `serverUser`, cannot read the users file, and what to do: its owner
 * and mode (a file root made in root's /etc/ferry, say). Empty when it can read it.
 */
export async function unreadableHint(usersFile: string, serverUser: string): Promise<string> {
  const denied = await access(usersFile, constants.R_OK).then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'EACCES',
  );
  if (!denied) return '';
  const fix = `keep the users file in the data directory (the default <dataDir>/users.yaml), which the server writes too`;
  const st = await stat(usersFile).catch(() => undefined);
  if (!st)
    return `the server runs as ${serverUser}, who cannot reach ${path.dirname(usersFile)}: make it searchable by ${serverUser}, or ${fix}`;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  return `owned by ${nameOf(st.uid)} with mode ${mode}; the server runs as ${serverUser}: chown ${serverUser} ${usersFile}, or ${fix}`;
}
