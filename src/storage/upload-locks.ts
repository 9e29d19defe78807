// Uploads whose result depends on the file already there (APPE, REST n + STOR) copy what they keep
// into a temp file and rename it over the target (local-write.ts): two at once would both start from
// the same old content, and the last rename would drop the other's bytes. UploadLocks lets one such
// upload per target run at a time in this process; the next one waits, then starts from its result.
//
// One registry must cover every LocalStorage that can name a file: `ferry serve` builds storages
// per session, so it creates one registry per process and gives it to all of them
// (cli/storage-config.ts). A LocalStorage given none has its own (its uploads only). Other
// processes (workers, local programs) are not covered: local-write.ts checks for them before the
// rename.
import { abortedError } from './fs-errors.js';
import { LeftTemps } from './upload-temp.js';

interface Waiter {
  grant: () => void;
  moved: (() => void) | undefined;
}

export class UploadLocks {
  /** Temp files these storages' uploads could not remove, retried when an upload there ends. */
  readonly leftTemps = new LeftTemps();
  /** Held keys → those waiting for them, first come first served. */
  readonly #held = new Map<string, Waiter[]>();

  /**
   * Resolves once `key` is the caller's, with the function that lets go of it (idempotent). Rejects
   * with ERR_ABORTED, leaving its place in the queue, if `signal` aborts first. Meanwhile `moved`
   * hears of each step the holder reports (moved()): a wait behind an upload whose bytes still
   * arrive is not a stuck command (the command time limit).
   */
  acquire(key: string, signal: AbortSignal, moved?: () => void): Promise<() => void> {
    if (signal.aborted) return Promise.reject(abortedError(signal));
    const waiters = this.#held.get(key);
    if (!waiters) {
      this.#held.set(key, []);
      return Promise.resolve(this.#releaser(key));
    }
    return new Promise((resolve, reject) => {
      const me: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.#releaser(key));
        },
        moved,
      };
      const onAbort = (): void => {
        const i = waiters.indexOf(me);
        if (i >= 0) waiters.splice(i, 1);
        reject(abortedError(signal));
      };
      waiters.push(me);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The holder of `key` made a step (an upload's bytes arrived): all waiting for it are told. */
  moved(key: string): void {
    for (const w of this.#held.get(key) ?? []) w.moved?.();
  }

  /** How many keys are held now. */
  get size(): number {
    return this.#held.size;
  }

  #releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#held.get(key)?.shift();
      if (next) next.grant();
      else this.#held.delete(key);
    };
  }
}
