import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandBudget, floodPeriodMs, type Charge, type CommandRate } from './command-budget.js';

/** A budget on a clock the test moves; `take` charges one command at the clock's time. */
function budgetAt(start = 1_000_000): { clock: { t: number }; budget: CommandBudget } {
  const clock = { t: start };
  return { clock, budget: new CommandBudget(() => clock.t) };
}

/** Charges `n` commands at once; returns their charges. */
function takeMany(budget: CommandBudget, rate: CommandRate, n: number, pipelined = false): Charge[] {
  return Array.from({ length: n }, () => budget.take(rate, pipelined));
}

test('a burst goes at once; the command past it waits one interval, and so each after it', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 10, burst: 5 };
  assert.deepEqual(
    takeMany(budget, rate, 5).map((c) => c.waitMs),
    [0, 0, 0, 0, 0],
  );
  const sixth = budget.take(rate, false);
  assert.equal(sixth.waitMs, 100);
  assert.equal(sixth.news, 'delayed', 'the first delay is news');
  clock.t += sixth.waitMs; // it waited, and ran
  const seventh = budget.take(rate, false);
  assert.equal(seventh.waitMs, 100);
  assert.equal(seventh.news, undefined, 'said once a session');
});

test('a client within the rate is never held back, however long it goes on', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 100, burst: 1 };
  for (let i = 0; i < 10_000; i++) {
    assert.equal(budget.take(rate, false).waitMs, 0);
    clock.t += 10;
  }
});

test('an idle while fills the bucket again, up to its burst and no more', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 10, burst: 3 };
  takeMany(budget, rate, 3);
  clock.t += 60_000;
  assert.deepEqual(
    takeMany(budget, rate, 4).map((c) => c.waitMs),
    [0, 0, 0, 100],
  );
});

test('0 a second is no budget at all', () => {
  const { budget } = budgetAt();
  for (const c of takeMany(budget, { perSecond: 0, burst: 1 }, 100_000, true)) assert.equal(c.waitMs, 0);
});

test('a pipelined flood held back for a whole flood period is news, once a period', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 100, burst: 200 }; // flood period: 2 s
  assert.equal(floodPeriodMs(rate), 2_000);
  takeMany(budget, rate, 200, true);
  const news: { at: number; news: string }[] = [];
  const start = clock.t;
  // Eight seconds of a full queue, each command run once its wait is over.
  while (clock.t - start < 8_000) {
    const c = budget.take(rate, true);
    if (c.news) news.push({ at: clock.t - start, news: c.news });
    clock.t += c.waitMs;
  }
  assert.deepEqual(
    news.map((n) => n.news),
    ['delayed', 'flood', 'flood', 'flood'],
  );
  assert.deepEqual(
    news.slice(1).map((n) => Math.round(n.at / 100) * 100),
    [2_000, 4_000, 6_000],
  );
});

test('a flood is one however late the timers of its waits fire (a busy event loop)', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 1_000, burst: 1_000 }; // flood period: 1 s
  takeMany(budget, rate, 1_000, true);
  const news: string[] = [];
  const start = clock.t;
  while (clock.t - start < 3_500) {
    const c = budget.take(rate, true);
    if (c.news) news.push(c.news);
    // Each wait ends 1.5 ms late (an interval is 1 ms): the next command or two then need no wait
    // at all, and the flood goes on at the rate. Such a command once started the period over.
    clock.t += c.waitMs > 0 ? c.waitMs + 1.5 : 0;
  }
  assert.deepEqual(news, ['delayed', 'flood', 'flood', 'flood']);
});

test('held back without a full queue (a client waiting for its replies) is never a flood', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 10, burst: 1 };
  for (let i = 0; i < 1_000; i++) {
    const c = budget.take(rate, false);
    assert.notEqual(c.news, 'flood');
    clock.t += c.waitMs;
  }
});

test('a flood that pauses (its queue drained, or within the rate) starts its period again', () => {
  const { clock, budget } = budgetAt();
  const rate = { perSecond: 100, burst: 100 }; // flood period: 1 s
  takeMany(budget, rate, 100, true);
  const run = (ms: number, pipelined: boolean): string[] => {
    const seen: string[] = [];
    const until = clock.t + ms;
    while (clock.t < until) {
      const c = budget.take(rate, pipelined);
      if (c.news) seen.push(c.news);
      clock.t += c.waitMs;
    }
    return seen;
  };
  assert.deepEqual(run(900, true), ['delayed']);
  assert.deepEqual(run(50, false), [], 'a moment without a full queue');
  assert.deepEqual(run(900, true), [], 'the period counts from the full queue again');
  assert.deepEqual(run(200, true), ['flood']);
});

test('the flood period is the burst at the rate, at least a second', () => {
  assert.equal(floodPeriodMs({ perSecond: 1_000, burst: 10_000 }), 10_000);
  assert.equal(floodPeriodMs({ perSecond: 50, burst: 5 }), 1_000);
});
