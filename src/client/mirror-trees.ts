/**
 * The mirror's two listings (mirror.ts): the local tree read from the disk, the remote one walked
 * with LIST or MLSD, each entry an Item keyed by its path relative to the mirror's root.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, ReplyError } from '../errors.js';
import { decodeBytes } from '../protocol/byte-text.js';
import type { FerryClient, RemoteEntry } from './client.js';
import { safeLocalName } from './batch.js';
import { listTree, type ListingJob } from './listing-queue.js';
import { fsPath } from './local-file.js';
import type { Excluded } from './mirror-filter.js';
import type { RetriedConnection } from './retried-step.js';
import { joinRemote } from './url.js';

export interface Item {
  readonly type: 'file' | 'dir' | 'link';
  /** null: the server did not report it (an MLSD without the size fact). */
  readonly size: number | null;
  readonly mtime: number;
  /** How exact `mtime` is, in ms (Infinity: unknown). */
  readonly precision: number;
  /** Permission bits, when known (a remote listing may not show them). */
  readonly mode?: number;
}

export type Tree = Map<string, Item>;

/** Entries left out by the filter, each side's (never walked, transferred or deleted). */
export type LeftOut = Set<string>;

export async function scanLocal(root: string, excluded?: Excluded, leftOut?: LeftOut): Promise<Tree> {
  const tree: Tree = new Map();
  const walk = async (dir: string, rel: string): Promise<void> => {
    // Names as bytes: one that is not UTF-8 keeps its bytes (byte-text.ts), as a remote one does.
    for (const d of await readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' })) {
      const name = decodeBytes(d.name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const full = path.join(dir, name);
      if (excluded?.(r, d.isDirectory())) {
        leftOut?.add(r);
        continue;
      }
      if (d.isSymbolicLink()) {
        tree.set(r, { type: 'link', size: 0, mtime: 0, precision: Infinity });
      } else if (d.isDirectory()) {
        const s = await stat(fsPath(full));
        tree.set(r, { type: 'dir', size: 0, mtime: 0, precision: Infinity, mode: s.mode & PERMS });
        await walk(full, r);
      } else if (d.isFile()) {
        const s = await stat(fsPath(full));
        tree.set(r, { type: 'file', size: s.size, mtime: s.mtimeMs, precision: 1, mode: s.mode & PERMS });
      }
    }
  };
  await walk(root, '');
  return tree;
}

/**
 * How deep a remote tree is walked: a server that lists a directory inside itself (a symbolic link
 * loop shown as a plain directory) would otherwise be walked without end.
 */
export const MAX_REMOTE_DEPTH = 100;

/**
 * The mode bits a mirror keeps: rwx for owner, group and others. Never setuid, setgid or sticky (as
 * lftp): any server could otherwise have a root mirror make setuid-root files, and an upload would
 * publish them where the server applies SITE CHMOD 4755.
 */
export const PERMS = 0o777;

/** A remote entry left out of the tree, and why (a `skip` event). */
export interface RemoteSkip {
  readonly rel: string;
  readonly reason: string;
}

/** Why a listed name cannot be mirrored, or undefined when it can. */
function unusableName(name: string): string | undefined {
  if (name.includes('/')) return 'unsafe file name from the server (it holds a /)';
  // The same rule as get's (batch.ts): no local separator (Windows' \), `.`, `..` or NUL either.
  if (!safeLocalName(name)) return 'unsafe file name from the server';
  if (/[\r\n]/.test(name)) return 'the name holds a line break: it cannot be asked for by name';
  return undefined;
}

/** The remote tree, and what the walk could not tell. */
export interface RemoteTree {
  readonly tree: Tree;
  readonly skips: RemoteSkip[];
  /** Subdirectories the server refused to list. */
  readonly unlisted: { rel: string; error: ReplyError }[];
  /**
   * Directories whose listing had lines the client could not read: entries it holds that the tree
   * lacks (a destination's extras there are not known to be gone).
   */
  readonly unread: { rel: string; lines: number }[];
}

export interface RemoteScanOptions {
  /** A listing is retried (after a lost connection, a transient reply). */
  readonly onRetry: (rel: string, retry: number, error: unknown) => void;
  readonly signal?: AbortSignal;
  readonly excluded?: Excluded;
  readonly leftOut?: LeftOut;
  /** More connections to list over, opened when asked (listing-queue.ts); none: `conn` alone. */
  readonly helpers?: () => Promise<readonly FerryClient[]>;
}

/** What one listed directory gives the tree: in the listing's order, each entry's outcome. */
type Outcome =
  | { readonly rel: string; readonly leftOut: true }
  | { readonly rel: string; readonly skip: string }
  | { readonly rel: string; readonly item: Item };

export async function scanRemote(
  conn: RetriedConnection,
  root: string,
  o: RemoteScanOptions,
): Promise<RemoteTree> {
  const { excluded, leftOut, signal } = o;
  const outcomes = new Map<string, Outcome[]>();
  // Lines of a listing the client could not read: per remote directory while it is listed, then
  // per key once listed.
  const unreadIn = new Map<string, number>();
  const unreadAt = new Map<string, number>();
  // The walk holds every entry it listed: as many in all as one listing may have (the listings run
  // in parallel, with only a depth limit).
  const maxEntries = conn.client.maxListingEntries;
  let walked = 0;
  const children = (job: ListingJob, entries: RemoteEntry[]): ListingJob[] => {
    walked += entries.length;
    if (walked > maxEntries)
      throw new FerryError(
        'ERR_LIMIT',
        `The remote tree has more than ${maxEntries} entries (maxListingEntries): the mirror was stopped.`,
      );
    const rel = job.key;
    unreadAt.set(rel, unreadIn.get(job.dir) ?? 0);
    const out: Outcome[] = [];
    const below: ListingJob[] = [];
    // A name listed twice (a file and a directory) is neither: which one is real cannot be told.
    const seen = new Map<string, number>();
    for (const e of entries) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const count = seen.get(e.name) ?? 0;
      if (count === 0) continue; // reported already
      if (excluded?.(r, e.type === 'dir')) {
        out.push({ rel: r, leftOut: true });
        continue;
      }
      const unusable =
        unusableName(e.name) ??
        (count > 1 ? `listed ${count} times by the server in one directory` : undefined) ??
        (e.type === 'dir' && job.level >= MAX_REMOTE_DEPTH
          ? `more than ${MAX_REMOTE_DEPTH} directory levels deep (a directory that lists itself?)`
          : undefined);
      if (unusable !== undefined) {
        seen.set(e.name, 0);
        out.push({ rel: r, skip: unusable });
        continue;
      }
      const item: Item = {
        type: e.type,
        size: e.size,
        mtime: e.modified.getTime(),
        precision: e.modifiedPrecisionMs,
        mode: e.mode,
      };
      out.push({ rel: r, item });
      if (e.type === 'dir') below.push({ key: r, dir: joinRemote(job.dir, e.name), level: job.level + 1 });
    }
    outcomes.set(rel, out);
    return below;
  };
  const listed = await listTree(
    { key: '', dir: root, level: 1 },
    {
      conn,
      list: (client, dir) => {
        unreadIn.delete(dir); // a listing tried again counts its own lines
        const onUnreadLine = (): void => void unreadIn.set(dir, (unreadIn.get(dir) ?? 0) + 1);
        return client.list(dir, { signal, all: true, directory: true, onUnreadLine });
      },
      onRetry: (job, retry, error) => o.onRetry(job.key, retry, error),
      children,
      helpers: o.helpers,
    },
  );

  // The tree in the order of a walk one directory after the other (depth first, as listed),
  // whichever connection listed what first.
  const tree: Tree = new Map();
  const skips: RemoteSkip[] = [];
  // Subdirectories the server refused to list (as lftp and rsync, the walk goes on without them).
  const unlisted: { rel: string; error: ReplyError }[] = [];
  const unread: { rel: string; lines: number }[] = [];
  const walk = (rel: string): void => {
    const result = listed.get(rel);
    if (result && 'refused' in result) unlisted.push({ rel, error: result.refused });
    const lines = unreadAt.get(rel) ?? 0;
    if (lines > 0) unread.push({ rel, lines });
    for (const x of outcomes.get(rel) ?? []) {
      if ('leftOut' in x) leftOut?.add(x.rel);
      else if ('skip' in x) skips.push({ rel: x.rel, reason: x.skip });
      else {
        tree.set(x.rel, x.item);
        if (x.item.type === 'dir') walk(x.rel);
      }
    }
  };
  walk('');
  return { tree, skips, unlisted, unread };
}

export function depth(rel: string): number {
  return rel.split('/').length;
}

/** Whether `rel` is inside (strictly below) one of `roots`. */
export function isUnder(rel: string, roots: ReadonlySet<string>): boolean {
  if (roots.size === 0) return false;
  for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
    if (roots.has(rel.slice(0, i))) return true;
  }
  return false;
}
