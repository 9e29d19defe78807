/**
 * Scrapes of a cluster primary (/metrics, /sessions) that come at once share one gather from the
 * workers: a flood of them costs the workers and the primary's event loop one round, not one each.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { testPrimary } from '../support/cluster-primary.js';

test('metrics and sessions asked for at once: one gather from the workers each, shared; the next gathers anew', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cluster-scrape-'));
  const log: string[] = [];
  const primary = await testPrimary(dir, (msg) => log.push(msg));
  const count = (msg: string): number => log.filter((m) => m === msg).length;
  try {
    await primary.listen();
    const metrics = await Promise.all(Array.from({ length: 50 }, () => primary.clusterMetrics()));
    const sessions = await Promise.all(Array.from({ length: 50 }, () => primary.clusterSessions()));
    assert.equal(count('asking the workers for their metrics'), 1);
    assert.equal(count('asking the workers for their sessions'), 1);
    assert.ok(
      metrics.every((m) => m === metrics[0]),
      'one result for all',
    );
    assert.deepEqual(sessions[0], { sessions: [], missingWorkers: [] }, 'both workers answered');
    await primary.clusterMetrics();
    assert.equal(
      count('asking the workers for their metrics'),
      2,
      'a later scrape is not served an old gather',
    );
  } finally {
    await primary.close();
    await rm(dir, { recursive: true, force: true });
  }
});
