// Host directories that several accounts' trees show: a folder shared by several accounts (or a
// folder over another account's home) counts in full for each of them, so a change one account
// makes there changes the quota usage of the others too. Only local homes and folders are host
// directories (an S3 home is nobody else's).
import path from 'node:path';
import type { VPath } from '../storage/types.js';
import type { TreeOf } from './user-storage.js';

export interface NamedTree extends TreeOf {
  username: string;
}

/** One mount of an account's tree: the host directory `dir` shown at `at`. */
interface Mount {
  username: string;
  at: string;
  dir: string;
}

interface Index {
  /** Host directory → the mounts showing it. */
  byDir: Map<string, Mount[]>;
  /** Username → its mounts. */
  byUser: Map<string, Mount[]>;
  /** Accounts one of whose directories is, holds or lies in another account's. */
  shared: Set<string>;
}

const covers = (at: string, p: string): boolean => at === '/' || p === at || p.startsWith(`${at}/`);

/** Where the accounts are: read all at once, and told of each change. */
export interface TreeSource {
  current(): Promise<readonly NamedTree[]>;
  onChange(listener: () => void): () => void;
}

/**
 * Built from the accounts at the first lookup after they changed; a lookup then costs a few map
 * lookups, and nothing at all for an account none of whose directories another one shows. One per
 * server, kept across reloads: the sessions from before a reload follow the accounts too.
 */
export class SharedTrees {
  #index: Promise<Index> | undefined;
  /** The last index built: what is known while the store is away (a database outage). */
  #last: Index | undefined;
  #source: TreeSource | undefined;
  #unwatch: (() => void) | undefined;

  /** Follows `source` from now on (the server's accounts, again at each reload). */
  follow(source: TreeSource): void {
    this.close();
    this.#source = source;
    this.#unwatch = source.onChange(() => (this.#index = undefined));
  }

  /** Follows nothing any more (shutdown): no account shares anything. */
  close(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#source = undefined;
    this.#index = undefined;
    this.#last = undefined;
  }

  /**
   * The other accounts whose trees show the file at `p` in `username`'s tree, each with how many
   * times (once per mount showing it, as a scan of that tree counts it).
   */
  async others(username: string, p: VPath): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    // The store away: the accounts as last read (an outage hides their changes anyway; the
    // recovery announces them), tried again at the next change. Warned of (the caller) only when
    // nothing was ever read: every upload of a user sharing nothing warned during an outage.
    const index = await (this.#index ??= this.#build().then(
      (built) => (this.#last = built),
      (err: unknown) => {
        if (this.#last) return this.#last;
        this.#index = undefined;
        throw err;
      },
    ));
    const mine = index.byUser.get(username);
    if (!mine || !index.shared.has(username)) return found;
    const m = routed(mine, p);
    if (!m) return found;
    const file = path.join(m.dir, path.posix.relative(m.at, p));
    for (let d = file; ; d = path.dirname(d)) {
      for (const o of index.byDir.get(d) ?? []) {
        if (o.username === username) continue;
        const shown = path.posix.join(o.at, path.relative(o.dir, file).split(path.sep).join('/'));
        if (routed(index.byUser.get(o.username) ?? [], shown) === o)
          found.set(o.username, (found.get(o.username) ?? 0) + 1);
      }
      if (path.dirname(d) === d) break;
    }
    return found;
  }

  async #build(): Promise<Index> {
    const byDir = new Map<string, Mount[]>();
    const byUser = new Map<string, Mount[]>();
    for (const t of (await this.#source?.current()) ?? []) {
      if (byUser.has(t.username)) continue; // shadowed (the config's entry comes first)
      const roots: [string, string][] = Object.entries(t.folders ?? {});
      if (t.home !== '' && !t.home.startsWith('s3://')) roots.push(['/', t.home]);
      const mounts = roots.map(([at, dir]) => ({ username: t.username, at, dir: path.resolve(dir) }));
      byUser.set(t.username, mounts);
      for (const m of mounts) byDir.set(m.dir, [...(byDir.get(m.dir) ?? []), m]);
    }
    const shared = new Set<string>();
    for (const [dir, mounts] of byDir) {
      for (let d = dir; ; d = path.dirname(d)) {
        const over = byDir.get(d) ?? [];
        const users = new Set([...mounts, ...over].map((m) => m.username));
        if (users.size > 1) for (const u of users) shared.add(u);
        if (path.dirname(d) === d) break;
      }
    }
    return { byDir, byUser, shared };
  }
}

/** The mount of `mounts` that `p` belongs to: the longest covering it. */
function routed(mounts: readonly Mount[], p: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) if (covers(m.at, p) && (!best || m.at.length > best.at.length)) best = m;
  return best;
}
