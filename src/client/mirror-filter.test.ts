import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mirrorFilter } from './mirror-filter.js';

describe('mirrorFilter', () => {
  it('no patterns: no filter', () => {
    assert.equal(mirrorFilter({}), undefined);
    assert.equal(mirrorFilter({ exclude: [], include: [] }), undefined);
  });

  it('exclude: a name in any directory, or a relative path; * stops at / and matches dot-files', () => {
    const ex = mirrorFilter({ exclude: ['*.tmp', 'cache', 'logs/*.gz', '/top.txt'] });
    assert.ok(ex);
    assert.ok(ex('a.tmp', false) && ex('d/e/.b.tmp', false));
    assert.ok(ex('cache', true) && ex('sub/cache', true));
    assert.ok(ex('logs/x.gz', false));
    assert.ok(!ex('sub/logs/x.gz', false), 'a path pattern is relative to the root');
    assert.ok(!ex('logs/old/x.gz', false), '* stops at /');
    assert.ok(ex('top.txt', false) && !ex('sub/top.txt', false), 'a leading / anchors');
    assert.ok(!ex('a.txt', false) && !ex('sub', true));
  });

  it('include: an exception to exclude; alone, only the files it matches (directories walked)', () => {
    const both = mirrorFilter({ exclude: ['*.log'], include: ['keep.log'] });
    assert.ok(both);
    assert.ok(both('x.log', false) && !both('d/keep.log', false) && !both('a.txt', false));
    const only = mirrorFilter({ include: ['*.txt'] });
    assert.ok(only);
    assert.ok(!only('a.txt', false) && !only('d/b.txt', false) && !only('d', true));
    assert.ok(only('a.bin', false));
  });

  it('a pattern for no name is a usage error', () => {
    for (const p of ['', '/', 'dir/']) {
      assert.throws(() => mirrorFilter({ exclude: [p] }), { code: 'ERR_USAGE' });
    }
  });
});
