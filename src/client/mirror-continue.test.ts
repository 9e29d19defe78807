import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cutAfterSource, smallerPart } from './mirror-continue.js';

const f = (size: number | null, mtime: number, precision = 1) => ({ size, mtime, precision });

describe('mirror -c: what may be continued', () => {
  it('only a smaller, non-empty destination of known sizes', () => {
    assert.ok(smallerPart(f(10, 0), f(5, 0)));
    assert.ok(!smallerPart(f(10, 0), f(0, 0)), 'empty: nothing to continue');
    assert.ok(!smallerPart(f(10, 0), f(10, 0)) && !smallerPart(f(10, 0), f(11, 0)));
    assert.ok(!smallerPart(f(null, 0), f(5, 0)) && !smallerPart(f(10, 0), f(null, 0)));
  });

  it("a destination newer than the source's latest possible time (a cut transfer), never an older version", () => {
    assert.ok(cutAfterSource(f(10, 1000), f(5, 2000, 1000)), 'cut a second after the change');
    assert.ok(!cutAfterSource(f(10, 2000), f(5, 1000, 1000)), 'an older version');
    assert.ok(!cutAfterSource(f(10, 1500), f(5, 1000, 1000)), 'the same second: undecided');
    // A LIST minute (the source remote, a download): the file may have changed until its end.
    assert.ok(!cutAfterSource(f(10, 60_000, 60_000), f(5, 100_000)), 'within the listed minute');
    assert.ok(cutAfterSource(f(10, 60_000, 60_000), f(5, 120_000)));
    assert.ok(!cutAfterSource(f(10, 0, Infinity), f(5, 1e12)), 'unknown times continue nothing');
    assert.ok(!cutAfterSource(f(10, 0), f(5, 1e12, Infinity)));
  });
});
