import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byAddress, leastBusy } from './worker-slot.js';

const slot = (name: string, active: number, ready = true) => ({ name, active, ready });

test('a connection goes to the ready worker with the fewest; ties to the first, every time', () => {
  const workers = [slot('w1', 2), slot('w2', 1), slot('w3', 1), slot('w4', 0, false)];
  assert.equal(leastBusy(workers)?.name, 'w2', 'fewest among the ready ones');
  // Sessions one after another (each closed before the next): always the same, warm worker.
  const idle = [slot('w1', 0), slot('w2', 0)];
  assert.deepEqual(
    [1, 2, 3, 4].map(() => leastBusy(idle)?.name),
    ['w1', 'w1', 'w1', 'w1'],
  );
  // Sessions at the same time spread: each one held raises its worker's count.
  const held = [slot('w1', 0), slot('w2', 0)];
  const picked = [1, 2, 3, 4].map(() => {
    const w = leastBusy(held);
    if (w) w.active++;
    return w?.name;
  });
  assert.deepEqual(picked, ['w1', 'w2', 'w1', 'w2']);
  assert.equal(leastBusy([slot('w1', 0, false)]), undefined, 'none ready');
});

test('by address: one address always reaches the same ready worker, whatever the load; addresses spread', () => {
  const workers = [slot('w1', 0), slot('w2', 0)];
  const first = byAddress(workers, '192.0.2.7')?.name;
  for (const w of workers) w.active = first === w.name ? 50 : 0;
  assert.equal(byAddress(workers, '192.0.2.7')?.name, first, 'busier, but the same');
  const names = new Set(Array.from({ length: 20 }, (_, i) => byAddress(workers, `10.0.0.${i}`)?.name));
  assert.deepEqual([...names].sort(), ['w1', 'w2']);
  // Its worker not ready (restarting): the least busy ready one.
  const down = workers.map((w) => ({ ...w, ready: w.name !== first }));
  assert.notEqual(byAddress(down, '192.0.2.7')?.name, first);
  assert.equal(byAddress([slot('w1', 0, false)], '192.0.2.7'), undefined, 'none ready');
});

test('a worker out of descriptors gets connections only when every ready one is', () => {
  const now = 1_000;
  const full = { name: 'w1', active: 0, ready: true, outOfFilesUntil: now + 1 };
  const busy = slot('w2', 5);
  assert.equal(leastBusy([full, busy], now)?.name, 'w2', 'busier, but it has room');
  assert.equal(leastBusy([full, slot('w2', 5, false)], now)?.name, 'w1', 'the only ready one');
  assert.equal(leastBusy([full, { ...busy, outOfFilesUntil: now + 1 }], now)?.name, 'w1', 'all full: fewest');
  assert.equal(leastBusy([{ ...full, outOfFilesUntil: now }, busy], now)?.name, 'w1', 'that was before');
});
