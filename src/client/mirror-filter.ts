import { FerryError } from '../errors.js';
import { globMatcher } from '../protocol/glob.js';

/**
 * A mirror's `exclude` and `include` patterns, as rsync and lftp users know them: shell patterns
 * (`*`, `?`, `[a-z]`; `*` stops at `/` and matches dot-files too) matched against an entry's path
 * relative to the mirror's root (`logs/*.gz`; a leading `/` anchors a pattern there only) and,
 * for a pattern without `/`, against its base name in any directory. With `exclude`, an entry is
 * left out when an exclude matches it and no include does (an include is an exception); with
 * `include` alone, only the files it matches are mirrored (every directory is walked for them).
 * A directory left out is not walked.
 */
export interface MirrorFilterOptions {
  readonly exclude?: readonly string[];
  readonly include?: readonly string[];
}

/** Whether the entry at `rel` (a directory or not) is left out of the mirror. */
export type Excluded = (rel: string, dir: boolean) => boolean;

function compile(pattern: string): (rel: string) => boolean {
  const anchored = pattern.startsWith('/');
  const body = pattern.replace(/^\/+/, '');
  if (body === '' || body.endsWith('/'))
    throw new FerryError('ERR_USAGE', `Not a pattern for a file or directory name: ${pattern}`);
  const segments = body.split('/').map((s) => globMatcher(s, { hidden: true }));
  const [only] = segments;
  return (rel) => {
    const parts = rel.split('/');
    if (only && segments.length === 1 && !anchored && only(parts.at(-1) ?? '')) return true;
    return parts.length === segments.length && segments.every((m, i) => m(parts[i] ?? ''));
  };
}

/** The filter, or undefined when there are no patterns (nothing is left out). */
export function mirrorFilter(o: MirrorFilterOptions): Excluded | undefined {
  const excludes = (o.exclude ?? []).map(compile);
  const includes = (o.include ?? []).map(compile);
  if (excludes.length === 0 && includes.length === 0) return undefined;
  return (rel, dir) => {
    if (includes.some((m) => m(rel))) return false;
    if (excludes.length > 0) return excludes.some((m) => m(rel));
    return !dir;
  };
}
