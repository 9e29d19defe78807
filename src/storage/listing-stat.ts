import { constants, lstat as lstatCb, lstatSync } from 'node:fs';
import { setImmediate } from 'node:timers/promises';
import type { Pinned } from './fd-jail.js';
import type { FileStat, VPath } from './types.js';

/** An lstat slower than this moves the listing to the thread pool. */
const SLOW_LSTAT_MS = 1;
/** The longest a listing keeps the event loop before giving it a turn. */
const TURN_MS = 2;
/** What a listing needs of an lstat (fs.Stats has it). */
export interface StatLike {
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly dev: number;
  readonly ino: number;
}

export function isLink(st: StatLike): boolean {
  return (st.mode & constants.S_IFMT) === constants.S_IFLNK;
}

export function toFileStat(name: string, path: VPath, st: StatLike): FileStat {
  const fmt = st.mode & constants.S_IFMT;
  return {
    name,
    path,
    type: fmt === constants.S_IFDIR ? 'dir' : fmt === constants.S_IFLNK ? 'link' : 'file',
    size: st.size,
    modified: new Date(st.mtimeMs),
    mode: st.mode & 0o7777,
    id: `${st.dev.toString(16)}g${st.ino.toString(16)}`,
  };
}

/**
 * lstat for the entries of one listing, as Pure-FTPd and vsftpd do it: synchronously while the filesystem answers fast (a thread-pool
 * round trip per entry costs more than the cached lstat itself), giving the event loop a turn every
 * few milliseconds; once one lstat is slow (cold cache, network filesystem), the rest of the
 * listing goes through the thread pool so other sessions never wait.
 */
export class ListingStater {
  #sync = true;

  constructor(private readonly dir: Pinned) {}

  /** lstat of each name (undefined where it is gone since readdir). */
  async stat(names: string[]): Promise<(StatLike | undefined)[]> {
    if (!this.#sync) return Promise.all(names.map((name) => lstatIfExists(this.dir.child(name))));
    const out: (StatLike | undefined)[] = [];
    let turn = performance.now();
    for (const name of names) {
      const before = performance.now();
      out.push(lstatSync(this.dir.child(name), { throwIfNoEntry: false }));
      const after = performance.now();
      if (after - before > SLOW_LSTAT_MS) this.#sync = false;
      if (after - turn > TURN_MS) {
        await setImmediate();
        turn = performance.now();
      }
    }
    return out;
  }
}

/** lstat through the callback API: a listing makes 10,000s of these, and it costs less per call. */
function lstatIfExists(path: string): Promise<StatLike | undefined> {
  return new Promise((resolve, reject) => {
    lstatCb(path, (err, st) => {
      if (err === null) resolve(st);
      else if (err.code === 'ENOENT') resolve(undefined);
      else reject(err);
    });
  });
}
