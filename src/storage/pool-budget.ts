import { abortedError } from './fs-errors.js';

/**
 * Threads of libuv's pool kept from calls into filesystems that are not local (pool-budget below):
 * for logins (scrypt, the home check), local files and streams. Half the pool when it is small.
 */
export const RESERVED_THREADS = 4;
/** Calls into one such mount at once: a frozen mount holds no more, another one keeps working. */
export const CALLS_PER_MOUNT = 4;

/** The pool's size, as libuv read it from the environment at start (4 unless set; 1024 at most). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

interface Waiter {
  readonly mount: string;
  readonly go: () => void;
}

/** Runs a call into the thread pool once it may (PoolBudget.run for one mount and signal). */
export type PoolGate = <T>(call: () => Promise<T>) => Promise<T>;

/**
 * Pool threads for calls into network and FUSE filesystems (local-filesystems.ts). A call on a
 * frozen mount (a dead NFS server, a stopped FUSE daemon) never returns and keeps its thread for
 * good; without a bound a few sessions on it, each command cut by the time limit, took the whole
 * pool, and nobody in the process could log in. A call takes a slot first: at most `total` of them
 * process-wide, `perMount` per mount. The others wait here, holding no thread, first come first
 * served, until a slot frees or their `signal` fires (their session ended: its time limit, QUIT,
 * a hang-up). Local filesystems never come here (no cost on their fast path).
 */
export class PoolBudget {
  readonly total: number;
  readonly perMount: number;
  #used = 0;
  readonly #mounts = new Map<string, number>();
  readonly #waiting: Waiter[] = [];

  /** `threads`: the pool's size; the budget is what RESERVED_THREADS (half, at most) leave of it. */
  constructor(threads = threadPoolSize(), perMount = CALLS_PER_MOUNT) {
    this.total = Math.max(1, threads - Math.min(RESERVED_THREADS, Math.ceil(threads / 2)));
    this.perMount = Math.max(1, Math.min(perMount, this.total));
  }

  /** Slots taken now (a hung call keeps its slot). */
  get inUse(): number {
    return this.#used;
  }

  /** Runs `call` (calls into `mount`, one thread at a time) once it has a slot. */
  async run<T>(mount: string, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
    await this.#enter(mount, signal);
    try {
      return await call();
    } finally {
      this.#leave(mount);
    }
  }

  #fits(mount: string): boolean {
    return this.#used < this.total && (this.#mounts.get(mount) ?? 0) < this.perMount;
  }

  #take(mount: string): void {
    this.#used++;
    this.#mounts.set(mount, (this.#mounts.get(mount) ?? 0) + 1);
  }

  async #enter(mount: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw abortedError(signal);
    // A slot free here was never due to a waiter: #leave hands each one that frees to one that fits.
    if (this.#fits(mount)) return this.#take(mount);
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        mount,
        go: () => {
          signal.removeEventListener('abort', gone);
          resolve();
        },
      };
      const gone = (): void => {
        this.#waiting.splice(this.#waiting.indexOf(w), 1);
        reject(abortedError(signal));
      };
      this.#waiting.push(w);
      signal.addEventListener('abort', gone, { once: true });
    });
  }

  #leave(mount: string): void {
    this.#used--;
    const n = (this.#mounts.get(mount) ?? 1) - 1;
    if (n === 0) this.#mounts.delete(mount);
    else this.#mounts.set(mount, n);
    // The first waiter that fits: one of a mount at its cap does not hold up the others.
    for (let i = 0; i < this.#waiting.length;) {
      const w = this.#waiting[i];
      if (w === undefined || !this.#fits(w.mount)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#take(w.mount);
      w.go();
    }
  }
}
