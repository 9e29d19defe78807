import { isAbsent, type VPath } from '../storage/types.js';
import { ROOT, joinVPath, resolveVPath } from '../storage/virtual-path.js';

/**
 * A client path → VPath: `~` and `~/…` at its start name the home (`/`), as ProFTPD and Pure-FTPd
 * take them and lftp users type them. An entry literally named `~` in the cwd keeps its name
 * (GUI clients send the bare names a listing showed them: RETR ~, RMD ~/sub); `/~` or `./~` name
 * it anywhere. `exists` is asked only for a path starting with `~`.
 */
export async function resolveClientPath(
  cwd: VPath,
  input: string,
  exists: (p: VPath) => Promise<boolean>,
): Promise<VPath> {
  const literal = resolveVPath(cwd, input); // refuses what no path may hold, `~` or not
  if (input !== '~' && !input.startsWith('~/')) return literal;
  return (await exists(joinVPath(cwd, '~'))) ? literal : resolveVPath(ROOT, input.slice(1));
}

/** Whether `stat` finds an entry: not found (or hidden) is false; other failures are the caller's. */
export async function entryExists(stat: () => Promise<unknown>): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (isAbsent(err)) return false;
    throw err;
  }
}
