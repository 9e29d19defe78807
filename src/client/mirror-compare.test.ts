import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mayAskMdtm, sameSize, timeUndecided } from './mirror-compare.js';

const f = (size: number | null, mtime: number, precision = 1) => ({ size, mtime, precision });

describe('mirror comparison beyond the listing', () => {
  it("a listing's minute or day cannot decide a same-size file; seconds can", () => {
    assert.ok(timeUndecided(f(5, 30_000), f(5, 0, 60_000)), 'LIST minute (upload)');
    assert.ok(timeUndecided(f(5, 0, 86_400_000), f(5, 3_600_000)), 'vsftpd day (download)');
    assert.ok(!timeUndecided(f(5, 500), f(5, 0, 1000)), 'MLSD seconds decide');
    assert.ok(!timeUndecided(f(5, 0), f(6, 0, 60_000)), 'another size decides');
    assert.ok(!timeUndecided(f(null, 0), f(null, 0, 60_000)), 'sizes unknown: the times were all there was');
    assert.ok(!timeUndecided(f(5, 0), f(5, 0, Infinity)), 'no time at all');
  });

  it('--size-only: the sizes, when both are known', () => {
    assert.equal(sameSize(f(5, 0), f(5, 1e12)), true);
    assert.equal(sameSize(f(5, 0), f(6, 0)), false);
    assert.equal(sameSize(f(null, 0), f(5, 0)), undefined);
  });

  it('MDTM is asked where FEAT lists it, or where the server lists no features at all', () => {
    assert.ok(mayAskMdtm(new Map([['MDTM', '']])));
    assert.ok(mayAskMdtm(new Map()));
    assert.ok(!mayAskMdtm(new Map([['MLST', 'type*;size*;modify*;']])));
  });
});
