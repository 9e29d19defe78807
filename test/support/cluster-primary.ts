/**
 * A ClusterPrimary for tests: two workers (test/support/cluster-worker.ts, or what `fork` starts)
 * on ephemeral loopback ports, its certificate files written to `dir`; `onLog` sees each message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserTable } from '../../src/auth/users.js';
import type { Logger } from '../../src/logger.js';
import { ClusterPrimary, type ClusterOptions } from '../../src/server/cluster/primary.js';
import type { ServerOptions } from '../../src/server/options.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { testCertificate } from './ferry.js';

const WORKER = fileURLToPath(new URL('./cluster-worker.js', import.meta.url));

/**
 * Starts a worker process; `real` starts the test worker that serves, run by `wrapper` when given
 * (a command that runs the rest of its arguments: `prlimit --nofile=N:N`, say).
 */
export type ForkWorker = (real: (wrapper?: readonly string[]) => ChildProcess) => ChildProcess;

export async function testPrimary(
  dir: string,
  onLog: (msg: string) => void,
  forkWorker: ForkWorker = (real) => real(),
  limits: ServerOptions['limits'] = undefined,
  cluster: Partial<ClusterOptions> = {},
): Promise<ClusterPrimary> {
  const pair = await testCertificate();
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key);
  const log = (_obj: object, msg = ''): void => onLog(msg);
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  const options = {
    explicit: { host: '127.0.0.1', port: 0 },
    implicit: { host: '127.0.0.1', port: 0 },
    authenticator: new UserTable([]),
    storageFor: () => new MemoryStorage(),
    tls: { certificates: [{ certFile, keyFile }] },
    logger,
    ...(limits ? { limits } : {}),
  };
  const real = ([command, ...args]: readonly string[] = []): ChildProcess =>
    fork(WORKER, [certFile, keyFile], {
      stdio: 'ignore',
      ...(command ? { execPath: command, execArgv: [...args, process.execPath, ...process.execArgv] } : {}),
    });
  return new ClusterPrimary(options, { workers: 2, fork: () => forkWorker(real), init: null, ...cluster });
}
