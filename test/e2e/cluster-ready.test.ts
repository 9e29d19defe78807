/**
 * Readiness of a cluster (`ferry serve --workers N`, /readyz): a primary whose workers all died
 * and whose replacements are not ready yet is not serving (connections would be turned away).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { testPrimary } from '../support/cluster-primary.js';

test('a cluster whose workers all died is not serving until a replacement is ready', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cluster-ready-'));
  // The first two workers serve; their replacements never say they are ready.
  const serving: ChildProcess[] = [];
  const stuck: ChildProcess[] = [];
  const p = await testPrimary(
    dir,
    () => {},
    (real) => {
      if (serving.length < 2) {
        const child = real();
        serving.push(child);
        return child;
      }
      const child = spawn(process.execPath, ['-e', 'process.on("message", () => {})'], {
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      });
      stuck.push(child);
      return child;
    },
  );
  try {
    await p.listen();
    assert.equal(p.serving, true, 'both workers ready');
    // The primary's own exit handler runs first (it was added at fork): then ours.
    const [first, second] = serving;
    assert.ok(first && second, 'two workers forked');
    first.kill('SIGKILL');
    await once(first, 'exit');
    assert.equal(p.serving, true, 'one worker still serves');
    second.kill('SIGKILL');
    await once(second, 'exit');
    assert.equal(p.accepting, true, 'the listeners still accept');
    assert.equal(p.serving, false, 'no worker ready: not serving');
  } finally {
    p.destroy();
    for (const c of stuck) if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    await rm(dir, { recursive: true, force: true });
  }
});
