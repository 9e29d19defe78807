import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HomeChecks } from './home-checks.js';

/** A check that ends when told. */
function held(): { check: () => Promise<void>; end: () => void; started: () => boolean } {
  let end = (): void => {};
  let started = false;
  const done = new Promise<void>((resolve) => (end = resolve));
  return {
    check: () => ((started = true), done),
    end,
    started: () => started,
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('HomeChecks', () => {
  it('runs at most perHome checks of a home at once; the next starts when one ends', async () => {
    const checks = new HomeChecks(2);
    const signal = new AbortController().signal;
    const [a, b, c, other] = [held(), held(), held(), held()];
    const runs = [a, b, c].map((h) => checks.run('/frozen', signal, h.check));
    const elsewhere = checks.run('/healthy', signal, other.check);
    await turn();
    assert.deepEqual([a.started(), b.started(), c.started(), other.started()], [true, true, false, true]);
    assert.equal(checks.running('/frozen'), 2);
    a.end();
    await turn();
    assert.equal(c.started(), true);
    assert.equal(checks.running('/frozen'), 2);
    b.end();
    c.end();
    other.end();
    await Promise.all([...runs, elsewhere]);
    assert.equal(checks.running('/frozen'), 0);
  });

  it('a login whose client leaves stops waiting and takes no slot', async () => {
    const checks = new HomeChecks(1);
    const first = held();
    const running = checks.run('/frozen', new AbortController().signal, first.check);
    const gone = new AbortController();
    const late = held();
    const waiting = checks.run('/frozen', gone.signal, late.check);
    gone.abort(new Error('client left'));
    await assert.rejects(waiting, /client left/);
    first.end();
    await running;
    assert.equal(late.started(), false);
    assert.equal(checks.running('/frozen'), 0);
  });
});
