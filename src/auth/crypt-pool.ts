import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

interface Job {
  readonly id: number;
  readonly plain: string;
  readonly encoded: string;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

interface Slot {
  readonly worker: Worker;
  job?: Job;
}

/**
 * Worker threads for crypt-hash checks (SHA-crypt, bcrypt: tens of milliseconds of plain
 * JavaScript each), so that they never stall other sessions as scrypt in libuv's pool does not.
 * How many run at once is the password-check queue's business (maxPasswordChecks); this pool only
 * caps threads at the machine's cores. Idle threads are kept (unreferenced: they never hold the
 * process open) so a login does not pay a thread's start.
 */
const MAX_THREADS = Math.max(2, availableParallelism());
const slots: Slot[] = [];
const waiting: Job[] = [];
let nextId = 0;

function spawn(): Slot {
  const slot: Slot = { worker: new Worker(new URL('./crypt-worker.js', import.meta.url)) };
  slot.worker.on('message', (m: { id: number; ok?: boolean; error?: string }) => {
    const job = slot.job;
    if (!job || job.id !== m.id) return;
    slot.job = undefined;
    if (m.error !== undefined) job.reject(new Error(m.error));
    else job.resolve(m.ok === true);
    next(slot);
  });
  const fail = (err: Error): void => {
    const job = slot.job;
    slot.job = undefined;
    retire(slot);
    job?.reject(err);
  };
  slot.worker.on('error', fail);
  slot.worker.on('exit', (code) => fail(new Error(`password check thread exited (${code})`)));
  slots.push(slot);
  return slot;
}

/** Out of the pool (it failed, or its check was dropped): a waiting check gets a new thread. */
function retire(slot: Slot): void {
  const i = slots.indexOf(slot);
  if (i < 0) return;
  slots.splice(i, 1);
  void slot.worker.terminate();
  const job = waiting.shift();
  if (job) start(job);
}

function next(slot: Slot): void {
  const job = waiting.shift();
  if (!job) {
    slot.worker.unref();
    return;
  }
  slot.job = job;
  slot.worker.ref();
  slot.worker.postMessage({ id: job.id, plain: job.plain, encoded: job.encoded });
}

function start(job: Job): void {
  const idle = slots.find((s) => !s.job) ?? (slots.length < MAX_THREADS ? spawn() : undefined);
  if (!idle) {
    waiting.push(job);
    return;
  }
  waiting.unshift(job);
  next(idle);
}

/**
 * Whether `plain` matches the crypt hash `encoded`, checked in a worker thread. When `signal`
 * aborts (the client left) the check is dropped, its thread ended if it had started: unlike a
 * scrypt in libuv's pool, its CPU can be given back at once.
 */
export function verifyCryptOffThread(plain: string, encoded: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const stop = (): void => {
      const i = waiting.indexOf(job);
      if (i >= 0) waiting.splice(i, 1);
      const slot = slots.find((s) => s.job === job);
      if (slot) {
        slot.job = undefined;
        retire(slot);
      }
      job.reject(signal?.reason as Error);
    };
    const done = (): void => signal?.removeEventListener('abort', stop);
    const job: Job = {
      id: nextId++,
      plain,
      encoded,
      resolve: (ok) => (done(), resolve(ok)),
      reject: (err) => (done(), reject(err)),
    };
    signal?.addEventListener('abort', stop, { once: true });
    start(job);
  });
}
