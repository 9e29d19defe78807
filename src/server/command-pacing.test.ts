import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import type { CommandRate } from './command-budget.js';
import { CommandPacing } from './command-pacing.js';

/** A pacing at 10 a second after 2 at once, on mocked timers; what it told. */
function pacing(): { p: CommandPacing; told: string[] } {
  const told: string[] = [];
  const rate: CommandRate = { perSecond: 10, burst: 2 };
  const p = new CommandPacing(
    {
      rate: () => rate,
      delayed: () => told.push('delayed'),
      flooded: () => told.push('flooded'),
    },
    () => Date.now(),
  );
  return { p, told };
}

test('a command past the burst waits its interval; the first delay is told once', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const { p, told } = pacing();
    assert.deepEqual([p.charge(false), p.charge(false)], [0, 0]);
    assert.equal(p.charge(false), 100);
    assert.equal(p.charge(false), 200, 'the next one after it');
    assert.deepEqual(told, ['delayed']);
  } finally {
    mock.timers.reset();
  }
});

test('a held out-of-band command runs at its time; reading waits for it (holding)', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const { p } = pacing();
    let ran = 0;
    p.hold(100, () => ran++);
    assert.equal(p.holding, true);
    mock.timers.tick(99);
    assert.equal(ran, 0);
    mock.timers.tick(1);
    assert.equal(ran, 1);
    assert.equal(p.holding, false);
  } finally {
    mock.timers.reset();
  }
});

test("stop(): a held command never runs, a queued command's wait is over at once", async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const { p } = pacing();
    let ran = 0;
    p.hold(100, () => ran++);
    const waited = p.wait(60_000);
    p.stop();
    await waited; // without stop() it would wait for the clock
    mock.timers.tick(1_000);
    assert.equal(ran, 0);
    assert.equal(p.holding, false);
  } finally {
    mock.timers.reset();
  }
});
