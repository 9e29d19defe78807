/**
 * A cluster primary closed or destroyed while its listen() is starting (loading the certificate,
 * starting the workers, binding its listeners): listen() rejects, and no listener, worker or timer
 * is left to keep the process alive, as for FerryServer (leaks.test.ts).
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { UserTable } from '../../src/auth/users.js';
import type { Logger } from '../../src/logger.js';
import { ClusterPrimary } from '../../src/server/cluster/primary.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { testCertificate } from '../support/ferry.js';
import { assertNoLeaks, resourceCounts } from './harness.js';

const WORKER = fileURLToPath(new URL('../support/cluster-worker.js', import.meta.url));

/** A primary of two workers on ephemeral loopback ports (certificate files in `dir`); `onLog` sees each message. */
async function primary(dir: string, onLog: (msg: string) => void): Promise<ClusterPrimary> {
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
  };
  const fork1 = (): ReturnType<typeof fork> => fork(WORKER, [certFile, keyFile], { stdio: 'ignore' });
  return new ClusterPrimary(options, { workers: 2, fork: fork1, init: null });
}

const STOPS = {
  destroy: (p: ClusterPrimary) => p.destroy(),
  close: (p: ClusterPrimary) => void p.close(),
} as const;

/** When the stop comes: with the call, once the workers are forking, once the first listener is bound. */
const WHEN = {
  'at once': undefined,
  'workers starting': 'worker started',
  'first listener up': 'listening',
} as const;

test('close() or destroy() while a cluster primary listen()s: listen() rejects, no listener or worker is left', async () => {
  const baseline = resourceCounts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cluster-listen-'));
  try {
    for (const [how, stop] of Object.entries(STOPS)) {
      for (const [when, at] of Object.entries(WHEN)) {
        let target: ClusterPrimary | undefined;
        const p = await primary(dir, (msg) => {
          // A signal's handler runs on its own, never inside the call that logged (setImmediate);
          // the listener is stopped at once, before listen() has kept it where close() looks.
          const now = at === 'listening';
          if (msg !== at || !target) return;
          const t = target;
          target = undefined; // once
          if (now) stop(t);
          else setImmediate(() => stop(t));
        });
        target = p;
        const listening = p.listen();
        if (at === undefined) stop(p);
        await assert.rejects(listening, { code: 'ERR_CLOSED' }, `${how} ${when}`);
        await p.close();
        assert.equal(p.accepting, false, `${how} ${when}`);
        assert.deepEqual(p.workerPids, [undefined, undefined], `${how} ${when}: workers left`);
        await assertNoLeaks(baseline, `after ${how} ${when} during listen()`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
