import assert from 'node:assert/strict';
import { test } from 'node:test';

import { silentLogger } from './logger.js';
import { RetriedWrite } from './retried-write.js';

const MESSAGES = { failing: 'write failing', still: 'write still failing', done: 'written at last' };

test('a change made during a write is written by the next one, which a later change does not hold up', async () => {
  const pending: string[] = [];
  const written: string[][] = [];
  const gates: (() => void)[] = [];
  const writes = new RetriedWrite(
    silentLogger,
    MESSAGES,
    async () => {
      const batch = pending.splice(0);
      if (batch.length === 0) return; // close()'s last attempt, with nothing left
      await new Promise<void>((resolve) => gates.push(resolve));
      written.push(batch);
    },
    () => ({}),
  );
  const change = (name: string): Promise<void> => {
    pending.push(name);
    return writes.flush();
  };
  const seen: string[] = [];
  const a = change('a').then(() => seen.push('a'));
  const b = change('b').then(() => seen.push('b')); // during the first write: waits for the second
  const c = change('c').then(() => seen.push('c'));
  gates.shift()?.();
  await a;
  assert.deepEqual(written, [['a']]);
  assert.deepEqual(seen, ['a'], 'b and c are not written yet: their flush has not resolved');
  await new Promise((r) => setImmediate(r)); // the second write has started
  const d = change('d').then(() => seen.push('d')); // during the second write: a third one
  gates.shift()?.();
  await Promise.all([b, c]);
  assert.deepEqual(written, [['a'], ['b', 'c']]);
  assert.deepEqual(seen, ['a', 'b', 'c'], "d's change does not keep b and c waiting");
  await new Promise((r) => setImmediate(r));
  gates.shift()?.();
  await d;
  assert.deepEqual(written, [['a'], ['b', 'c'], ['d']]);
  await writes.close();
});
