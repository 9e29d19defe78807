import type { ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { storageError, throwIfAborted } from './fs-errors.js';
import { NO_TIME, begin, dirKeyOf, dirStat, fileStat, find, listPage, missing } from './s3-objects.js';
import type { S3Place } from './s3-objects.js';
import type { FileStat, StorageContext, VPath } from './types.js';
import { ROOT, isAllowedName, joinVPath } from './virtual-path.js';

export const LIST_PAGE = 1000;

/** A directory's entries, a batch per ListObjectsV2 page (up to 1,000 entries). */
export async function* listDir(at: S3Place, dir: VPath, c: StorageContext): AsyncGenerator<FileStat[]> {
  begin(dir, c);
  const prefix = dirKeyOf(at, dir);
  let next: Promise<ListObjectsV2CommandOutput> | undefined;
  let token: string | undefined;
  let first = true;
  // A name that is both a key and a prefix (`a` and `a/…`) is listed once, as the directory. The
  // key `a` sorts before `a/`, with only names `a` + a character below '/' between them, so a
  // file is held back until the listing has passed `a/` (on this page or a later one).
  let held: FileStat[] = [];
  do {
    const page = await (next ?? listPage(at, prefix, token, LIST_PAGE, c, 'list', dir, true));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    // Fetch the next page while this one is consumed: one page ahead, never more.
    next = token ? listPage(at, prefix, token, LIST_PAGE, c, 'list', dir, true) : undefined;
    next?.catch(() => undefined); // observed when awaited
    const dirs = page.CommonPrefixes ?? [];
    const files = page.Contents ?? [];
    if (first && dir !== ROOT && dirs.length === 0 && files.length === 0) {
      // No marker and nothing below: a file, or nothing.
      if ((await find(at, dir, c, 'list'))?.type === 'file') throw storageError('not-directory', 'list', dir);
      throw await missing(at, dir, c, 'list');
    }
    first = false;
    throwIfAborted(c.signal);
    const batch: FileStat[] = [];
    const dirNames = new Set<string>();
    for (const d of dirs) {
      const name = d.Prefix?.slice(prefix.length, -1);
      if (name === undefined) continue;
      dirNames.add(name);
      if (isAllowedName(name)) batch.push(dirStat(joinVPath(dir, name), NO_TIME));
    }
    held = held.filter((f) => !dirNames.has(f.name));
    for (const f of files) {
      const name = f.Key?.slice(prefix.length);
      if (name === undefined || !isAllowedName(name)) continue; // the marker itself, or unusable
      if (!dirNames.has(name))
        held.push(fileStat(joinVPath(dir, name), f.Size ?? 0, f.LastModified ?? NO_TIME));
    }
    // The last key or prefix of this page: a file sorting below it less its '/' is settled.
    const last = [files.at(-1)?.Key, dirs.at(-1)?.Prefix]
      .filter((k): k is string => k !== undefined)
      .map((k) => Buffer.from(k.slice(prefix.length)))
      .sort(Buffer.compare)
      .at(-1);
    const settled = (f: FileStat): boolean =>
      !token || (last !== undefined && Buffer.compare(Buffer.from(`${f.name}/`), last) < 0);
    batch.push(...held.filter(settled));
    held = held.filter((f) => !settled(f));
    if (batch.length > 0) yield batch;
    else c.progress?.(); // a page with nothing to list yet still moved (the command time limit)
  } while (token);
}
