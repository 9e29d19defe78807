import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onlyReads, permissionsAt, permits } from './permissions.js';
import type { Principal } from './types.js';

const user = (p: Partial<Principal> = {}): Principal => ({
  username: 'u',
  home: '/h',
  readOnly: false,
  ...p,
});

describe('permissions per virtual path', () => {
  it('/ defaults to everything, or to list and download for a read-only account', () => {
    assert.equal(permissionsAt(user(), '/a/b').size, 9);
    assert.deepEqual([...permissionsAt(user({ readOnly: true }), '/a')], ['list', 'download']);
    assert.ok(!permits(user({ readOnly: true }), 'upload', '/x'));
  });

  it('the longest rule covering the path wins, on whole path segments', () => {
    const p = user({
      permissions: { '/': ['list'], '/pub': ['list', 'download'], '/pub/drop': '*', '/in': ['upload'] },
    });
    assert.ok(!permits(p, 'download', '/'));
    assert.ok(!permits(p, 'download', '/other/file'));
    assert.ok(permits(p, 'download', '/pub'));
    assert.ok(permits(p, 'download', '/pub/a/b'));
    assert.ok(!permits(p, 'upload', '/pub/a'));
    assert.ok(permits(p, 'upload', '/pub/drop/x'));
    assert.ok(!permits(p, 'download', '/public'), '/pub does not cover /public');
    assert.ok(permits(p, 'upload', '/in/x') && !permits(p, 'list', '/in'));
  });

  it('a rule for / wins over readOnly', () => {
    assert.ok(permits(user({ readOnly: true, permissions: { '/': '*' } }), 'upload', '/a'));
  });

  it('onlyReads: whether the storage itself may be read-only', () => {
    assert.ok(onlyReads(user({ readOnly: true })));
    assert.ok(!onlyReads(user()));
    assert.ok(!onlyReads(user({ readOnly: true, permissions: { '/in': ['upload'] } })));
    assert.ok(onlyReads(user({ permissions: { '/': ['list'], '/pub': ['download'] } })));
  });
});
