import type { StorageBackend, StorageContext } from '../storage/types.js';

/**
 * Login's home checks (StorageBackend.checkRoot) in flight, per home. A local home's check is a
 * stat in libuv's thread pool, which everything in the process shares (password checks, file
 * streams); on a frozen mount (a dead NFS server, a stopped FUSE daemon) it never returns and keeps
 * its thread for good. A client retrying such a login (each try cut by the command time limit)
 * took one thread more each time, until nobody else could log in. So at most PER_HOME checks of a
 * home run at once; its other logins wait here, holding no thread, until one ends or their client
 * leaves (the time limit answers them meanwhile, as before). 2 rather than 1: a healthy home's check
 * takes microseconds, and a client opening parallel connections should not wait on each in turn.
 * One count per server (its runtime owns it); two servers embedded in one process share the pool
 * but not the count.
 */
export const HOME_CHECKS_PER_HOME = 2;

interface Home {
  running: number;
  /** Logins waiting for a check to end, first come first served. */
  readonly waiting: Set<() => void>;
}

export class HomeChecks {
  private readonly homes = new Map<string, Home>();

  constructor(private readonly perHome = HOME_CHECKS_PER_HOME) {}

  /** Runs `check` for `home` once fewer than perHome of its checks run; `signal`: the client left. */
  async run<T>(home: string, signal: AbortSignal, check: () => Promise<T>): Promise<T> {
    await this.enter(home, signal);
    try {
      return await check();
    } finally {
      this.leave(home);
    }
  }

  /** Checks of `home` running now (a hung one stays counted). */
  running(home: string): number {
    return this.homes.get(home)?.running ?? 0;
  }

  private async enter(home: string, signal: AbortSignal): Promise<void> {
    let h = this.homes.get(home);
    if (!h) this.homes.set(home, (h = { running: 0, waiting: new Set() }));
    if (h.running < this.perHome) {
      h.running++;
      return;
    }
    signal.throwIfAborted();
    const { waiting } = h;
    // The check that ends hands its slot to the first waiting login (running stays the same).
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal.removeEventListener('abort', gone);
        resolve();
      };
      const gone = (): void => {
        waiting.delete(go);
        reject(signal.reason);
      };
      waiting.add(go);
      signal.addEventListener('abort', gone, { once: true });
    });
  }

  private leave(home: string): void {
    const h = this.homes.get(home);
    if (!h) return;
    const [next] = h.waiting;
    if (next) {
      h.waiting.delete(next);
      next();
    } else if (--h.running === 0) this.homes.delete(home);
  }
}

/** `storage.checkRoot` for a login to `home`, bounded as HomeChecks says. */
export async function checkHome(
  checks: HomeChecks,
  storage: StorageBackend,
  home: string,
  c: StorageContext,
): Promise<void> {
  const { checkRoot } = storage;
  if (checkRoot) await checks.run(home, c.signal, () => checkRoot.call(storage, c));
}
