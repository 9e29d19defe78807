// The thread-pool budget of calls into filesystems that are not local: a per-process total and a
// per-mount cap; calls beyond wait (holding no thread) until a slot frees or their signal fires.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as settled } from 'node:timers/promises';
import { PoolBudget, threadPoolSize } from './pool-budget.js';

/** A call that ends when `end` is called (before it starts too): a hung one until then. */
function held(): { call: () => Promise<void>; end: () => void; started: boolean } {
  let end = (): void => {};
  const ended = new Promise<void>((resolve) => (end = resolve));
  const h = {
    started: false,
    call: () => {
      h.started = true;
      return ended;
    },
    end: () => end(),
  };
  return h;
}

const never = new AbortController().signal;

describe('PoolBudget', () => {
  it('keeps RESERVED_THREADS (half of a small pool) from calls into such filesystems', () => {
    assert.equal(new PoolBudget(16).total, 12);
    assert.equal(new PoolBudget(4).total, 2);
    assert.equal(new PoolBudget(1).total, 1);
    assert.equal(new PoolBudget(16).perMount, 4);
    assert.equal(new PoolBudget(4).perMount, 2, 'never above the total');
  });

  it('reads the pool size libuv reads', () => {
    assert.equal(threadPoolSize({}), 4);
    assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '16' }), 16);
    assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'x' }), 4);
    assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' }), 1024);
  });

  it('a frozen mount takes at most perMount slots; another mount still gets its calls run', async () => {
    const budget = new PoolBudget(16);
    const frozen = Array.from({ length: 6 }, held);
    const runs = frozen.map((h) => budget.run('/nfs/a', never, h.call));
    await settled(); // every promise chain that can move has moved
    assert.deepEqual(
      frozen.map((h) => h.started),
      [true, true, true, true, false, false],
    );
    assert.equal(budget.inUse, 4);
    assert.equal(await budget.run('/nfs/b', never, () => Promise.resolve('b')), 'b');
    frozen[0]?.end();
    await settled();
    assert.equal(frozen[4]?.started, true, 'the first waiting call has the slot that freed');
    assert.equal(frozen[5]?.started, false);
    for (const h of frozen) h.end();
    await Promise.all(runs);
    assert.equal(budget.inUse, 0);
  });

  it('the total is shared by all mounts; a waiting call of a capped mount does not hold up others', async () => {
    const budget = new PoolBudget(4, 1); // total 2, one per mount
    const a = [held(), held()];
    const b = held();
    const c = held();
    const runs = [...a.map((h) => budget.run('/a', never, h.call)), budget.run('/b', never, b.call)];
    const waitingC = budget.run('/c', never, c.call);
    await settled(); // every promise chain that can move has moved
    assert.deepEqual([a[0]?.started, a[1]?.started, b.started, c.started], [true, false, true, false]);
    b.end(); // /a's waiting call cannot take it (its mount is at its cap): /c's can
    await settled();
    assert.deepEqual([a[1]?.started, c.started], [false, true]);
    a[0]?.end();
    c.end();
    a[1]?.end();
    await Promise.all([...runs, waitingC]);
    assert.equal(a[1]?.started, true);
    assert.equal(budget.inUse, 0);
  });

  it('a waiting call whose signal fires (its session ended) leaves the queue with ERR_ABORTED', async () => {
    const budget = new PoolBudget(4, 1);
    const hung = held();
    const running = budget.run('/a', never, hung.call);
    const gone = new AbortController();
    const next = held();
    const waiting = budget.run('/a', gone.signal, next.call);
    gone.abort();
    await assert.rejects(waiting, { code: 'ERR_ABORTED' });
    hung.end();
    await running;
    assert.equal(next.started, false);
    assert.equal(budget.inUse, 0);
    await assert.rejects(budget.run('/a', gone.signal, next.call), { code: 'ERR_ABORTED' });
  });
});
