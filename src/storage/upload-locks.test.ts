import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { UploadLocks } from './upload-locks.js';

const never = new AbortController().signal;

describe('UploadLocks', () => {
  it('hands a key to one holder at a time, in arrival order; other keys are independent', async () => {
    const locks = new UploadLocks();
    const order: string[] = [];
    const first = await locks.acquire('k', never);
    const second = locks.acquire('k', never).then((release) => (order.push('second'), release));
    const third = locks.acquire('k', never).then((release) => (order.push('third'), release));
    (await locks.acquire('other', never))(); // not queued behind 'k'
    order.push('first done');
    first();
    first(); // idempotent: must not hand the key on twice
    (await second)();
    (await third)();
    assert.deepEqual(order, ['first done', 'second', 'third']);
    assert.equal(locks.size, 0, 'nothing held once all released');
  });

  it('a waiter whose signal aborts leaves the queue with ERR_ABORTED; the next gets the key', async () => {
    const locks = new UploadLocks();
    const first = await locks.acquire('k', never);
    const ac = new AbortController();
    const gone = locks.acquire('k', ac.signal);
    const next = locks.acquire('k', never);
    ac.abort();
    await assert.rejects(gone, (e: unknown) => e instanceof FerryError && e.code === 'ERR_ABORTED');
    first();
    (await next)();
    assert.equal(locks.size, 0);
    await assert.rejects(locks.acquire('k', ac.signal), (e: unknown) => e instanceof FerryError);
  });

  it('tells those waiting for a key of each step its holder reports, and only while they wait', async () => {
    const locks = new UploadLocks();
    const first = await locks.acquire('k', never);
    const steps = { second: 0, third: 0 };
    const second = locks.acquire('k', never, () => steps.second++);
    const third = locks.acquire('k', never, () => steps.third++);
    locks.moved('k');
    locks.moved('other'); // no one waits for it
    assert.deepEqual(steps, { second: 1, third: 1 });
    first();
    const release = await second;
    locks.moved('k'); // now the second's steps: only the third waits
    assert.deepEqual(steps, { second: 1, third: 2 });
    release();
    (await third)();
    assert.equal(locks.size, 0);
  });
});
