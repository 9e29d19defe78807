import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { UserEntry } from '../auth/users.js';
import { FerryError } from '../errors.js';
import {
  receiveInit,
  serveAsWorker,
  type PrimaryChannel,
  type WorkerHooks,
} from '../server/cluster/worker.js';
import type { FerryServer } from '../server/server.js';

/** Set by the primary in each worker's environment: the worker's position, 1..N. */
const WORKER_ENV = 'FERRY_WORKER';

/** `--workers` / `workers:`; default: one per core. */
export function workerCount(flag: string | undefined, configured: number | undefined): number {
  if (flag === undefined) return configured ?? os.availableParallelism();
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new FerryError('ERR_USAGE', `--workers: expected a number of processes 1-1024, got "${flag}".`);
  }
  return n;
}

/** This process's position when it is a worker started by `ferry serve --workers N`. */
export function workerIndex(): number | undefined {
  const index = Number(process.env[WORKER_ENV]);
  return Number.isInteger(index) && index > 0 && typeof process.send === 'function' ? index : undefined;
}

/**
 * V8's young generation for a serving process: 4 MiB semi-spaces instead of Node's 16 (also in the
 * `ferry` command's first line and the systemd unit). Measured with bench/ (`--workers 2`, 1 GiB
 * STOR by the shared harness's C client): 350-400 MB/s with 16, 510-535 with 3 to 8 (2: 335-350),
 * and 20% less RSS per idle session at 1,000; sessions/s unchanged. Likely why: the buffers that TLS
 * delivers records in are freed at each scavenge, so a small nursery hands cache-warm memory back.
 */
export const YOUNG_GENERATION = '--max-semi-space-size=4';

/** A worker's Node options: the primary's, with YOUNG_GENERATION unless they set the size. */
export function workerExecArgv(parent: readonly string[]): string[] {
  const own = parent.some((a) => a.startsWith('--max-semi-space-size'));
  return own ? [...parent] : [...parent, YOUNG_GENERATION];
}

/** Starts worker `index`: this same command line, told by its environment that it is a worker. */
export function forkWorker(index: number): ChildProcess {
  return fork(process.argv[1] ?? '', process.argv.slice(2), {
    env: { ...process.env, [WORKER_ENV]: String(index) },
    execArgv: workerExecArgv(process.execArgv),
  });
}

/** The logins, as the primary sends them: hashed once there, so every worker has the same ones. */
export async function receiveUsers(): Promise<UserEntry[]> {
  const data = await receiveInit(process as PrimaryChannel);
  if (!Array.isArray(data)) throw new FerryError('ERR_INVALID_OPTION', 'Worker: no users from the primary.');
  return data as UserEntry[];
}

/** A worker's life: serve what the primary hands over, then exit. The primary owns the signals. */
export async function runWorker(
  server: FerryServer,
  hooks: WorkerHooks & { close?(): Promise<void> } = {},
): Promise<void> {
  // Ctrl-C and `kill -HUP -PGID` reach the whole process group: the primary relays them.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  // SIGTERM to this one worker: it stops gracefully, and the primary starts a new one.
  // `close` runs after the server: the database state (its session leases end, pending usage is
  // written) and the log's held lines.
  const finish = (): Promise<void> => hooks.close?.().catch(() => {}) ?? Promise.resolve();
  process.on(
    'SIGTERM',
    () =>
      void server
        .close()
        .then(finish)
        .then(() => process.exit(0)),
  );
  await serveAsWorker(server, process as PrimaryChannel, hooks);
  await finish();
  process.exit(0);
}
