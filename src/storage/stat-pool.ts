import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FIELDS, type StatAnswer, type StatRequest } from './stat-worker.js';

/** What a listing needs of an lstat: fs.Stats has these, and so do StatPool's answers. */
export interface StatLike {
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly dev: number;
  readonly ino: number;
}

interface Waiting {
  resolve: (v: Float64Array) => void;
  reject: (err: Error) => void;
}

/**
 * Threads that lstat the entries of large listings. An lstat here costs a few microseconds of
 * system call; one by one on the event loop, 10,000 of them are most of a LIST. Split over the
 * cores, they run while the event loop formats and encrypts what came before. One pool serves all
 * of a server's sessions; its threads start on first use and never keep the process alive.
 */
export class StatPool {
  #workers: Worker[] = [];
  readonly #waiting = new Map<number, Waiting>();
  /** Which thread each waiting request went to. */
  readonly #owner = new Map<number, Worker>();
  #seq = 0;
  #closed = false;

  constructor(private readonly threads = Math.max(1, Math.min(2, availableParallelism()))) {}

  /** lstat of each of `names` in `dir` (a directory path the caller keeps valid); undefined where gone. */
  async lstat(dir: string, names: readonly string[]): Promise<(StatLike | undefined)[]> {
    if (this.#closed) throw new Error('StatPool is closed.');
    const workers = this.#start();
    const per = Math.ceil(names.length / workers.length);
    const parts = workers
      .map((w, i) => ({ w, part: names.slice(i * per, (i + 1) * per) }))
      .filter(({ part }) => part.length > 0);
    const answers = await Promise.all(parts.map(({ w, part }) => this.#ask(w, dir, part)));
    const out: (StatLike | undefined)[] = [];
    for (const values of answers) {
      for (let at = 0; at < values.length; at += FIELDS) {
        const mode = values[at] as number;
        out.push(
          Number.isNaN(mode)
            ? undefined
            : {
                mode,
                size: values[at + 1] as number,
                mtimeMs: values[at + 2] as number,
                dev: values[at + 3] as number,
                ino: values[at + 4] as number,
              },
        );
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  #start(): Worker[] {
    while (this.#workers.length < this.threads) {
      const w = new Worker(new URL('./stat-worker.js', import.meta.url));
      w.unref();
      w.on('message', (a: StatAnswer) => this.#answer(a));
      // A thread that dies fails what it had; the next listing starts a new one.
      const gone = (err: Error): void => {
        this.#workers = this.#workers.filter((x) => x !== w);
        for (const [id, wait] of this.#waiting) if (this.#owner.get(id) === w) this.#fail(id, wait, err);
      };
      w.on('error', gone);
      w.on('exit', () => gone(new Error('stat thread exited')));
      this.#workers.push(w);
    }
    return this.#workers;
  }

  #ask(w: Worker, dir: string, names: string[]): Promise<Float64Array> {
    const id = this.#seq++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#owner.set(id, w);
      const req: StatRequest = { id, dir, names };
      w.postMessage(req);
    });
  }

  #answer(a: StatAnswer): void {
    const wait = this.#waiting.get(a.id);
    if (!wait) return;
    this.#waiting.delete(a.id);
    this.#owner.delete(a.id);
    if ('error' in a) wait.reject(Object.assign(new Error(`lstat: ${a.error}`), { code: a.error }));
    else wait.resolve(a.values);
  }

  #fail(id: number, wait: Waiting, err: Error): void {
    this.#waiting.delete(id);
    this.#owner.delete(id);
    wait.reject(err);
  }
}
