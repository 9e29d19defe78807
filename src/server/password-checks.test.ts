import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PasswordCheckQueue } from './password-checks.js';

/** A check that ends when the test says so. */
function gate(): { check: () => Promise<string>; open: () => void; started: boolean } {
  let open!: () => void;
  const g = {
    started: false,
    check: () => {
      g.started = true;
      return new Promise<string>((resolve) => (open = () => resolve('done')));
    },
    open: () => open(),
  };
  return g;
}

const never = new AbortController().signal;

test('a quiet address takes the next free slot, ahead of an attacker queue', async () => {
  const q = new PasswordCheckQueue({ overall: 2, perAddress: 1 });
  const attackers = [...Array(20)].map((_, i) => ({ g: gate(), address: `10.0.0.${i % 2}` }));
  const runs = attackers.map((a) => q.run(a.address, never, a.g.check));
  assert.equal(attackers.filter((a) => a.g.started).length, 2);
  const legit = gate();
  const legitRun = q.run('192.0.2.1', never, legit.check);
  assert.equal(legit.started, false);
  // One running check ends: the quiet address is next, before the attackers' waiting checks.
  attackers.find((a) => a.g.started)?.g.open();
  await new Promise(setImmediate);
  assert.equal(legit.started, true);
  legit.open();
  assert.equal(await legitRun, 'done');
  // Drain the rest.
  for (;;) {
    const running = attackers.filter((a) => a.g.started);
    running.forEach((a) => a.g.open());
    await new Promise(setImmediate);
    if (attackers.every((a) => a.g.started)) break;
  }
  attackers.forEach((a) => a.g.open());
  assert.equal((await Promise.all(runs)).length, 20);
  assert.equal(q.waiting, 0);
});

test('per address: one at a time, in order', async () => {
  const q = new PasswordCheckQueue({ overall: 4, perAddress: 1 });
  const gs = [gate(), gate(), gate()];
  const runs = gs.map((g) => q.run('10.0.0.1', never, g.check));
  assert.deepEqual(
    gs.map((g) => g.started),
    [true, false, false],
  );
  gs[0]?.open();
  await new Promise(setImmediate);
  assert.equal(gs[1]?.started, true);
  gs[1]?.open();
  await new Promise(setImmediate);
  gs[2]?.open();
  assert.deepEqual(await Promise.all(runs.slice(0, 3)), ['done', 'done', 'done']);
});

test('an aborted wait leaves the queue', async () => {
  const q = new PasswordCheckQueue({ overall: 1, perAddress: 1 });
  const first = gate();
  const r1 = q.run('10.0.0.1', never, first.check);
  const ac = new AbortController();
  const second = gate();
  const r2 = q.run('10.0.0.2', ac.signal, second.check);
  ac.abort();
  assert.equal(await r2, undefined);
  assert.equal(q.waiting, 0);
  first.open();
  assert.equal(await r1, 'done');
  assert.equal(second.started, false);
});
