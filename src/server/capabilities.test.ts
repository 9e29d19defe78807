import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Principal } from '../auth/types.js';
import { MemoryStorage } from '../storage/memory.js';
import type { FileStat, VPath } from '../storage/types.js';
import { capabilitiesOf, listingPermFact, permFact } from './capabilities.js';

const file = {
  name: 'f',
  path: '/f' as VPath,
  type: 'file',
  size: 1,
  modified: new Date(0),
  mode: 0o644,
} as FileStat;
const dir = { ...file, name: 'd', path: '/d' as VPath, type: 'dir' } as FileStat;
const user = (readOnly: boolean): Principal => ({ username: 'u', home: 'tenant-1', readOnly });

describe('capabilities', () => {
  test('before login everything is offered (FEAT lists what the server can do)', () => {
    const can = capabilitiesOf({ phase: 'none' });
    assert.ok(can('chmod', 'chmod') && can('set-modified'));
  });

  test('after login: the storage features and the user permissions both count', () => {
    const storage = new MemoryStorage({ features: ['restart-read'] });
    const rw = capabilitiesOf({ phase: 'in', principal: user(false), storage });
    assert.ok(rw('restart-read', 'download'));
    assert.ok(!rw('set-modified', 'overwrite'), 'missing feature');
    assert.ok(!rw('chmod'), 'missing feature');
    assert.ok(rw(undefined, 'rename'));
    const ro = capabilitiesOf({ phase: 'in', principal: user(true), storage: new MemoryStorage() });
    assert.ok(ro('restart-read', 'download') && ro(undefined, 'list'));
    assert.ok(!ro('set-modified', 'overwrite') && !ro(undefined, 'upload') && !ro(undefined, 'rename'));
  });

  test('perm fact: all letters for a full user, none that write for a read-only one', () => {
    const full = capabilitiesOf({ phase: 'in', principal: user(false), storage: new MemoryStorage() });
    assert.equal(permFact(file, full), 'rwadf');
    assert.equal(permFact(dir, full), 'elcmpdf');
    const ro = capabilitiesOf({ phase: 'in', principal: user(true), storage: new MemoryStorage() });
    assert.equal(permFact(file, ro), 'r');
    assert.equal(permFact(dir, ro), 'el');
    const noAppend = capabilitiesOf({
      phase: 'in',
      principal: user(false),
      storage: new MemoryStorage({ features: [] }),
    });
    assert.equal(permFact(file, noAppend), 'rwdf');
  });

  test("perm fact: the user's root can be neither removed nor renamed (RMD / and RNFR / are refused): no d, no f", () => {
    const login = { phase: 'in', principal: user(false), storage: new MemoryStorage() } as const;
    const root = { ...dir, name: '/', path: '/' as VPath };
    assert.equal(permFact(root, capabilitiesOf(login)), 'elcmp');
    // A listing computes each kind of entry once: the root is not taken for another directory.
    const perm = listingPermFact(login);
    assert.equal(perm(dir), 'elcmpdf');
    assert.equal(perm(root), 'elcmp');
  });
});
