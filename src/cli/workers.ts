import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { UserEntry } from '../auth/users.js';
import type { ServeUsers } from './serve-options.js';
import type { FileConfig } from './config.js';
import { FerryError } from '../errors.js';
import {
  receiveInit,
  serveAsWorker,
  type PrimaryChannel,
  type WorkerHooks,
} from '../server/cluster/worker.js';
import type { FerryServer } from '../server/server.js';
import type { CertificateMaterial } from '../tls/certificates.js';
import { ServeSignals } from './serve-signals.js';
import { threadPoolEnv } from './thread-pool.js';

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
    env: { ...threadPoolEnv(process.env), [WORKER_ENV]: String(index) },
    execArgv: workerExecArgv(process.execArgv),
  });
}

/**
 * What the primary hands each worker at its start and at each reload: the logins, hashed once there
 * (every worker has the same ones, a generated password too), and the configuration the primary
 * runs with. A worker never reads the config file itself: one started after a rejected reload (or
 * after the primary dropped its privileges) serves the last good configuration, not the file.
 */
export interface WorkerSettings {
  readonly users: UserEntry[];
  /** The generated login, while the primary still has it (no account configured yet). */
  readonly generated?: UserEntry | undefined;
  readonly config: FileConfig;
}

/** The settings the primary hands its workers for `users`. */
export function settingsFor(users: ServeUsers, config: FileConfig): WorkerSettings {
  const g = users.generatedLogin;
  return { users: users.entries, ...(g?.active ? { generated: g.entry } : {}), config };
}

/** The settings, as the primary sent them (see WorkerSettings). */
export function workerSettings(data: unknown): WorkerSettings {
  const s = data as Partial<WorkerSettings> | undefined;
  if (!Array.isArray(s?.users) || typeof s.config !== 'object' || s.config === null)
    throw new FerryError('ERR_INVALID_OPTION', 'Worker: no settings from the primary.');
  return { users: s.users, generated: s.generated, config: s.config };
}

/** Waits for the primary's first message: the settings to start with, and its certificates. */
export async function receiveSettings(): Promise<
  WorkerSettings & { readonly certificates?: CertificateMaterial }
> {
  const init = await receiveInit(process as PrimaryChannel);
  return { ...workerSettings(init.data), certificates: init.certificates };
}

/** A worker's life: serve what the primary hands over, then exit. The primary owns the signals. */
export async function runWorker(
  server: FerryServer,
  hooks: WorkerHooks & { signals?: ServeSignals; close?(): Promise<void> } = {},
): Promise<void> {
  // Ctrl-C and `kill -HUP -PGID` reach the whole process group: the primary relays them.
  // SIGTERM to this one worker (also while it started): it tells the primary (which hands it
  // nothing more and starts its replacement), stops gracefully and exits below.
  const drain = new AbortController();
  const signals = hooks.signals ?? new ServeSignals();
  signals.onReload(() => {});
  signals.onStop((signal) => {
    if (signal === 'SIGTERM') drain.abort();
  });
  await serveAsWorker(server, process as PrimaryChannel, { ...hooks, drain: drain.signal });
  // `close` runs after the server: the database state (its session leases end, pending usage is
  // written) and the log's held lines.
  await hooks.close?.().catch(() => {});
  process.exit(0);
}
