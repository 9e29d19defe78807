import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globMatcher, hasWildcard, unquote } from './glob.js';

describe('glob patterns for one path segment', () => {
  const matches = (pattern: string, names: string[]): string[] => names.filter(globMatcher(pattern));
  const names = ['a.gz', 'b.gz', 'ab.gz', 'a.txt', '.hidden.gz', 'c[1].log', 'x-1', 'x_2', 'Q?', '*star'];

  it('* and ? match runs and single characters, but not a leading dot', () => {
    assert.deepEqual(matches('*.gz', names), ['a.gz', 'b.gz', 'ab.gz']);
    assert.deepEqual(matches('?.gz', names), ['a.gz', 'b.gz']);
    assert.deepEqual(matches('.*.gz', names), ['.hidden.gz']);
    assert.deepEqual(matches('*', ['.a', 'b']), ['b']);
  });

  it('classes: sets, ranges, negation with ! or ^, a leading ]', () => {
    assert.deepEqual(matches('[ab].gz', names), ['a.gz', 'b.gz']);
    assert.deepEqual(matches('[a-b]*.gz', names), ['a.gz', 'b.gz', 'ab.gz']);
    assert.deepEqual(matches('[!a]*.gz', names), ['b.gz']);
    assert.deepEqual(matches('[^a]*.gz', names), ['b.gz']);
    assert.deepEqual(matches('x[-_]?', names), ['x-1', 'x_2']);
    assert.deepEqual(matches('[]x]-1', names), ['x-1']);
  });

  it('quoting and regular-expression characters are literal', () => {
    assert.deepEqual(matches('c\\[1\\].log', names), ['c[1].log']);
    assert.deepEqual(matches('Q\\?', names), ['Q?']);
    assert.deepEqual(matches('\\*star', names), ['*star']);
    assert.deepEqual(matches('a.gz', ['a.gz', 'aXgz']), ['a.gz']);
    assert.deepEqual(matches('(a|b)+', ['(a|b)+', 'a']), ['(a|b)+']);
  });

  it('matching takes time linear in the name for each star, never exponential (a server matches what clients send)', () => {
    // A backtracking regular expression needs ~2^30 steps for this: minutes.
    const pattern = '*a'.repeat(30) + 'b';
    assert.equal(globMatcher(pattern)('a'.repeat(200)), false);
    assert.equal(globMatcher(pattern)('a'.repeat(30) + 'b'), true);
    assert.deepEqual(matches('*.g*z', ['x.gz', 'x.gzz', 'x.g.z', 'x.zg']), ['x.gz', 'x.gzz', 'x.g.z']);
    assert.deepEqual(matches('é?', ['éa', 'é', 'éab']), ['éa'], 'characters, not UTF-16 units');
  });

  it('an unclosed [ is a literal character', () => {
    assert.equal(hasWildcard('a[b'), false);
    assert.deepEqual(matches('a[b*', ['a[bc', 'ab']), ['a[bc']);
  });

  it('hasWildcard and unquote', () => {
    assert.equal(hasWildcard('plain.txt'), false);
    assert.equal(hasWildcard('*.gz'), true);
    assert.equal(hasWildcard('a\\*'), false);
    assert.equal(hasWildcard('f[0-9]'), true);
    assert.equal(unquote('a\\*b\\\\c'), 'a*b\\c');
    assert.equal(unquote('a\\b'), 'a\\b');
  });
});
