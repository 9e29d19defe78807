import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessBits } from './host-access.js';

test('the class the kernel picks: owner, else a group of the process, else others (no fall-through)', () => {
  const ids = { uid: 1000, gids: [1000, 27] };
  assert.equal(accessBits({ mode: 0o750, uid: 1000, gid: 0 }, ids), 7);
  assert.equal(accessBits({ mode: 0o057, uid: 1000, gid: 27 }, ids), 0, 'the owner gets the owner bits only');
  assert.equal(accessBits({ mode: 0o750, uid: 0, gid: 27 }, ids), 5, 'a supplementary group');
  assert.equal(accessBits({ mode: 0o755, uid: 0, gid: 0 }, ids), 5);
  assert.equal(accessBits({ mode: 0o000, uid: 0, gid: 0 }, ids), 0);
});
