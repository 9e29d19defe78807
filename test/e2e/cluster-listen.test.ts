/**
 * A cluster primary closed or destroyed while its listen() is starting (loading the certificate,
 * starting the workers, binding its listeners): listen() rejects, and no listener, worker or timer
 * is left to keep the process alive, as for FerryServer (leaks.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { ClusterPrimary } from '../../src/server/cluster/primary.js';
import { testPrimary } from '../support/cluster-primary.js';
import { assertNoLeaks, resourceCounts } from './harness.js';

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
        const p = await testPrimary(dir, (msg) => {
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
