import { chown, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Files that root writes into a data directory handed to another user (`ferry users`, `ferry bans`,
 * `ferry db` run with sudo next to a server running as its `runAs` user) must stay that user's, or
 * the server can no longer read them: a file replaced keeps the owner and group of the one it
 * replaces, a new one takes those of its directory. Only root can give files away; for anyone else
 * a file is already its writer's, as before.
 */

export interface Owner {
  uid: number;
  gid: number;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * The owner `file` (about to be replaced or created) must have; undefined when not root. A new file
 * gets `newOwner` when given (the users file of a server that becomes its runAs user), else its
 * directory's owner.
 */
export async function inheritedOwner(file: string, newOwner?: Owner): Promise<Owner | undefined> {
  if (!isRoot()) return undefined;
  const st =
    (await stat(file).catch(() => undefined)) ??
    newOwner ??
    (await stat(path.dirname(path.resolve(file))).catch(() => undefined));
  return st && { uid: st.uid, gid: st.gid };
}

/**
 * `mkdir -p` (mode 0700); as root, the directories it creates are given to the owner of the
 * directory they were created in (a users file's directory made under the run-as user's home).
 */
export async function makeDirectory(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  const first = await mkdir(abs, { recursive: true, mode: 0o700 });
  if (first === undefined || !isRoot()) return;
  const parent = await stat(path.dirname(first));
  if (parent.uid === 0 && parent.gid === 0) return;
  for (let d = abs; ; d = path.dirname(d)) {
    await chown(d, parent.uid, parent.gid);
    if (d === first || d === path.dirname(d)) break;
  }
}
