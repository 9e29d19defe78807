import { isMainThread } from 'node:worker_threads';

/**
 * Runs `run` with the process's working directory set to `dir` (a path ending in '/', e.g. a
 * pinned directory's magic link), and sets it back before returning. `run` gets the prefix that
 * names an entry of `dir`: '' inside it, `dir` itself when the directory could not be borrowed (a
 * worker thread, a working directory that no longer exists, or `dir` not enterable).
 *
 * Why: a name looked up relative to the working directory costs the kernel one path component
 * (lstat 3.4 µs here), where `/proc/PID/fd/N/name` costs five and a magic-link jump (6.6 µs); it is
 * the relative lstat Pure-FTPd and vsftpd do from their chdir'ed processes. chdir through the magic
 * link lands in the very directory the descriptor holds, so the lookups stay as jailed as the link.
 *
 * Only for processes where nothing else resolves a relative path: `run` is synchronous, so no
 * JavaScript sees the borrowed directory, but libuv's thread pool may run another request's system
 * call meanwhile. `ferry serve` uses absolute paths only; an embedding application opts in.
 */
export function insideDirectory<T>(dir: string, run: (prefix: string) => T): T {
  const home = enter(dir);
  if (home === undefined) return run(dir);
  try {
    return run('');
  } finally {
    leave(home);
  }
}

/** The working directory to return to, once in `dir`; undefined if staying out. */
function enter(dir: string): string | undefined {
  if (!isMainThread) return undefined; // process.chdir() is the main thread's only
  try {
    const home = process.cwd();
    process.chdir(dir);
    return home;
  } catch {
    return undefined;
  }
}

function leave(home: string): void {
  try {
    process.chdir(home);
  } catch {
    // Removed meanwhile: anywhere but a client's directory.
    process.chdir('/');
  }
}
