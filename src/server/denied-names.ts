import { globMatcher } from '../protocol/glob.js';
import { storageError } from '../storage/fs-errors.js';
import type { Principal } from '../auth/types.js';
import type { FileStat, StorageBackend, StorageContext, VPath } from '../storage/types.js';
import { segmentsOf } from '../storage/virtual-path.js';

/**
 * Whether a path names something the site does not allow: one of its names (the file's, or a
 * directory's on the way to it) matches a `denyFiles` pattern.
 */
export type DeniedPath = (p: VPath) => boolean;

/**
 * `denyFiles` as a test of paths, or undefined when there are no patterns. Patterns are shell
 * globs for one name (`*.exe`, `.ht*`); `*` matches a leading dot too, as vsftpd's deny_file does.
 */
export function deniedPaths(patterns: readonly string[], ignoreCase: boolean): DeniedPath | undefined {
  if (patterns.length === 0) return undefined;
  const fold = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  const matchers = patterns.map((p) => globMatcher(fold(p), { hidden: true }));
  const denied = (name: string): boolean => matchers.some((m) => m(fold(name)));
  return (p) => segmentsOf(p).some(denied);
}

/**
 * `s` as a session with deny rules sees it (vsftpd's deny_file): a denied path cannot be read,
 * written, created, renamed (either side), removed or entered, and listings leave it out. Where
 * a link leads elsewhere in the tree the storage asks `denies` with the resolved path, so a link
 * named harmlessly cannot reach a denied file; a virtual folder's paths reach it as outer ones.
 * Refusals are name-not-allowed: 553 for a command that creates the name, 550 for the others.
 */
export function withDeniedNames(s: StorageBackend, denied: DeniedPath): StorageBackend {
  const check = (p: VPath, op: string): void => {
    if (denied(p)) throw storageError('name-not-allowed', op, p);
  };
  const guard = (c: StorageContext, op: string): StorageContext => ({
    ...c,
    denies: (resolved, replacing) => {
      check(resolved, op);
      return c.denies?.(resolved, replacing);
    },
  });
  const { prepareWrite, setModified, chmod, uniqueName, checkRoot } = s;
  return {
    get features() {
      return s.features;
    },
    stat: async (p, c) => (check(p, 'stat'), s.stat(p, guard(c, 'stat'))),
    list: (dir, c) => visible(dir, s, guard(c, 'list'), denied),
    openRead: async (p, o, c) => (check(p, 'read'), s.openRead(p, o, guard(c, 'read'))),
    write: async (p, src, o, c) => (check(p, 'write'), s.write(p, src, o, guard(c, 'write'))),
    ...(prepareWrite && {
      prepareWrite: async (p, o, c) => (check(p, 'write'), prepareWrite.call(s, p, o, guard(c, 'write'))),
    }),
    mkdir: async (p, c) => (check(p, 'mkdir'), s.mkdir(p, guard(c, 'mkdir'))),
    remove: async (p, c) => (check(p, 'remove'), s.remove(p, guard(c, 'remove'))),
    removeDir: async (p, c) => (check(p, 'rmdir'), s.removeDir(p, guard(c, 'rmdir'))),
    rename: async (from, to, c) => {
      check(from, 'rename');
      check(to, 'rename');
      return s.rename(from, to, guard(c, 'rename'));
    },
    ...(setModified && {
      setModified: async (p, d, c) => (
        check(p, 'setModified'),
        setModified.call(s, p, d, guard(c, 'setModified'))
      ),
    }),
    ...(chmod && { chmod: async (p, m, c) => (check(p, 'chmod'), chmod.call(s, p, m, guard(c, 'chmod'))) }),
    ...(uniqueName && { uniqueName: async (dir, c) => (check(dir, 'unique'), uniqueName.call(s, dir, c)) }),
    ...(checkRoot && { checkRoot: (c) => checkRoot.call(s, c) }),
  };
}

/** `dir`'s batches without the entries whose paths are denied (a batch left empty is skipped: a step). */
async function* visible(
  dir: VPath,
  s: StorageBackend,
  c: StorageContext,
  denied: DeniedPath,
): AsyncIterable<readonly FileStat[]> {
  if (denied(dir)) throw storageError('name-not-allowed', 'list', dir);
  for await (const batch of s.list(dir, c)) {
    const shown = batch.filter((st) => !denied(st.path));
    if (shown.length > 0) yield shown;
    else c.progress?.(); // still moving, for the command time limit
  }
}

/** `storageFor` with the server's and the principal's `denyFiles` applied (as they are at login). */
export function deniedNamesFor(
  storageFor: (p: Principal) => StorageBackend,
  o: { readonly denyFiles: readonly string[]; readonly denyFilesIgnoreCase: boolean },
): (p: Principal) => StorageBackend {
  return (p) => {
    const denied = deniedPaths([...o.denyFiles, ...(p.denyFiles ?? [])], o.denyFilesIgnoreCase);
    const s = storageFor(p);
    return denied ? withDeniedNames(s, denied) : s;
  };
}
