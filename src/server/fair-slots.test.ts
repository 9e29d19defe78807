import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairSlots, type Slot } from './fair-slots.js';

/** Queues a job of `key` that records its start (as `key` + a number) and keeps its slot. */
function jobs(slots: FairSlots): {
  started: string[];
  held: Map<string, Slot>;
  add(key: string, name: string): () => void;
} {
  const started: string[] = [];
  const held = new Map<string, Slot>();
  return {
    started,
    held,
    add: (key, name) =>
      slots.enter(key, (slot) => {
        started.push(name);
        held.set(name, slot);
      }),
  };
}

test('keys take turns: a quiet key waits for one running job, however many another queues', () => {
  const slots = new FairSlots({ overall: 1, perKey: 1 });
  const j = jobs(slots);
  for (let i = 1; i <= 4; i++) j.add('attacker', `a${i}`);
  j.add('quiet', 'q1');
  assert.deepEqual(j.started, ['a1']);
  assert.equal(slots.waiting, 4);
  j.held.get('a1')?.release();
  assert.deepEqual(j.started, ['a1', 'q1']);
  j.held.get('q1')?.release();
  assert.deepEqual(j.started, ['a1', 'q1', 'a2']);
});

test('per key and overall bounds hold; a release twice gives back one slot', () => {
  const slots = new FairSlots({ overall: 3, perKey: 2 });
  const j = jobs(slots);
  for (const name of ['x1', 'x2', 'x3']) j.add('x', name);
  j.add('y', 'y1');
  j.add('y', 'y2');
  assert.deepEqual(j.started, ['x1', 'x2', 'y1']);
  j.held.get('x1')?.release();
  j.held.get('x1')?.release();
  assert.deepEqual(j.started, ['x1', 'x2', 'y1', 'y2'], 'y is in turn before x again; x3 still waits');
  j.held.get('y1')?.release();
  assert.deepEqual(j.started.at(-1), 'x3');
  assert.equal(slots.waiting, 0);
});

test('a withdrawn job never starts; withdrawing a started one changes nothing', () => {
  const slots = new FairSlots({ overall: 1, perKey: 1 });
  const j = jobs(slots);
  const first = j.add('a', 'a1');
  const gone = j.add('b', 'b1');
  j.add('c', 'c1');
  gone();
  first();
  assert.equal(slots.waiting, 1);
  j.held.get('a1')?.release();
  assert.deepEqual(j.started, ['a1', 'c1']);
});

test('leaveOverall lets another key start while the key keeps its own slot', () => {
  const slots = new FairSlots({ overall: 1, perKey: 1 });
  const j = jobs(slots);
  j.add('a', 'a1');
  j.add('a', 'a2');
  j.add('b', 'b1');
  j.held.get('a1')?.leaveOverall();
  assert.deepEqual(j.started, ['a1', 'b1'], "a is at its own limit: b's job takes the overall slot");
  j.held.get('a1')?.release();
  assert.deepEqual(j.started, ['a1', 'b1'], 'the overall slot is still b1’s');
  j.held.get('b1')?.release();
  assert.deepEqual(j.started, ['a1', 'b1', 'a2']);
});

test('raised limits start waiting jobs at once', () => {
  const slots = new FairSlots({ overall: 1, perKey: 1 });
  const j = jobs(slots);
  j.add('a', 'a1');
  j.add('a', 'a2');
  j.add('b', 'b1');
  slots.setLimits({ overall: 3, perKey: 2 });
  assert.deepEqual(j.started, ['a1', 'b1', 'a2']);
});
