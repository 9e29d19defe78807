import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Account } from '../auth/account.js';
import { silentLogger } from '../logger.js';
import type { Usage, UsageLedger } from '../storage/quota.js';
import { LocalStorage } from '../storage/local.js';
import { UsageRecounts } from './usage-recounts.js';

test('a worker crashing again and again queues each user once more, not once per crash', async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'ferry-recounts-'));
  try {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let reading!: () => void;
    const bothReading = new Promise<void>((r) => (reading = r));
    const reads = new Map<string, number>();
    // The record's first reads wait at the gate: both users' scans are running meanwhile.
    const ledger: UsageLedger = {
      get: async (name: string): Promise<Usage> => {
        reads.set(name, (reads.get(name) ?? 0) + 1);
        if (reads.size === 2) reading();
        await gate;
        return { bytes: 0, files: 0 };
      },
      init: async (_name: string, usage: Usage) => usage,
      add: async () => {},
      forget: async () => {},
      replace: async () => true,
    };
    const storage = new LocalStorage({ root: home });
    const account = (username: string): Account => ({ username, passwordHash: 'x', home, quotaSize: 1000 });
    const recounts = new UsageRecounts(
      () => ({ ledger, lookup: async (n) => account(n), tree: () => storage }),
      silentLogger,
    );
    recounts.run(['a', 'b'], 'worker 1 died');
    await bothReading;
    for (let i = 2; i < 20; i++) recounts.run(['a', 'b', 'c'], `worker ${i} died`);
    open();
    await recounts.settled();
    // a and b: their running scan, then one more; c: once.
    assert.deepEqual(Object.fromEntries(reads), { a: 2, b: 2, c: 1 });
    assert.equal(recounts.complete, true);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
