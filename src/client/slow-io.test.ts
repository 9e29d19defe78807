import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlowIo } from './slow-io.js';

/** A SlowIo on its own clock, and an operation that takes `ms` of it. */
function timed(): { io: SlowIo; op: (ms: number) => void } {
  let clock = 0;
  const io = new SlowIo({}, () => clock);
  return { io, op: (ms) => io.time(() => (clock += ms)) };
}

describe('SlowIo', () => {
  it('stays synchronous through page-cache reads preempted now and then (slow ones, never three in a row)', () => {
    const { io, op } = timed();
    // A loaded machine: a read held up past 10 ms by other threads, here and there, between fast ones.
    for (const ms of [0.2, 15, 0.2, 0.3, 22, 0.2, 12, 15, 0.2, 0.1, 40, 0.2, 11, 0.3]) op(ms);
    assert.equal(io.threaded, false);
  });

  it('goes to the thread pool after three slow operations in a row, and stays there', () => {
    const { io, op } = timed();
    op(0.2);
    op(30);
    op(25);
    assert.equal(io.threaded, false);
    op(40);
    assert.equal(io.threaded, true);
    op(0.1); // a disk that was slow may be slow again: no going back
    assert.equal(io.threaded, true);
  });

  it('starts in the thread pool when told the file is slow', () => {
    assert.equal(new SlowIo({ threaded: true }).threaded, true);
  });
});
