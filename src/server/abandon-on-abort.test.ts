import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abandonOnAbort } from './abandon-on-abort.js';

/** A promise settled from outside, as a storage call that may never settle. */
function pending<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((ok, fail) => ((resolve = ok), (reject = fail)));
  return { promise, resolve, reject };
}

test('not aborted: settles as the work does', async () => {
  const never = new AbortController();
  assert.equal(
    await abandonOnAbort(Promise.resolve(7), { signal: never.signal, abandoned: () => assert.fail() }),
    7,
  );
  await assert.rejects(
    abandonOnAbort(Promise.reject(new Error('disk')), {
      signal: never.signal,
      abandoned: () => assert.fail(),
    }),
    /disk/,
  );
});

test('aborted, and the work stops in time: its own outcome, nothing abandoned', async () => {
  const ac = new AbortController();
  const work = pending<number>();
  const bounded = abandonOnAbort(work.promise, {
    signal: ac.signal,
    abandoned: () => assert.fail('abandoned'),
    afterMs: 60_000,
  });
  ac.abort();
  work.reject(new Error('stopped'));
  await assert.rejects(bounded, /stopped/); // and the 60 s timer is gone: the test ends at once
});

test('aborted, and the work ignores it: abandoned once, ERR_ABORTED, its late outcome ignored', async () => {
  const ac = new AbortController();
  const work = pending<number>();
  let abandoned = 0;
  const bounded = abandonOnAbort(work.promise, {
    signal: ac.signal,
    abandoned: () => abandoned++,
    afterMs: 5,
  });
  ac.abort();
  await assert.rejects(bounded, { code: 'ERR_ABORTED' });
  assert.equal(abandoned, 1);
  work.reject(new Error('late')); // no unhandled rejection (node:test would report it)
  await assert.rejects(work.promise, /late/);
  assert.equal(abandoned, 1);
});

test('a signal aborted already: the bound starts at once', async () => {
  const work = pending<number>();
  let abandoned = 0;
  await assert.rejects(
    abandonOnAbort(work.promise, { signal: AbortSignal.abort(), abandoned: () => abandoned++, afterMs: 5 }),
    { code: 'ERR_ABORTED' },
  );
  assert.equal(abandoned, 1);
});

test('`now` aborts (the connection destroyed): abandoned at once, without blaming the work', async () => {
  const ac = new AbortController();
  const now = new AbortController();
  const work = pending<number>();
  const bounded = abandonOnAbort(work.promise, {
    signal: ac.signal,
    now: now.signal,
    abandoned: () => assert.fail('told as if it ignored its signal'),
    afterMs: 60_000,
  });
  ac.abort();
  now.abort();
  await assert.rejects(bounded, { code: 'ERR_ABORTED' }); // and the 60 s timer is gone
  work.resolve(1);
});
