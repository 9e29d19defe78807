import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outcomeFault, principalFault, statFault } from './embedder-values.js';

const file = { name: 'a', path: '/a', type: 'file', size: 3, modified: new Date(0), mode: 0o644 };

test('a FileStat: its size a whole number ≥ 0, its date valid; anything else is named', () => {
  assert.equal(statFault(file), undefined);
  assert.equal(statFault({ ...file, type: 'dir', size: 4096 }), undefined);
  assert.equal(statFault({ ...file, size: undefined }), 'size undefined');
  assert.equal(statFault({ ...file, size: -5 }), 'size -5');
  assert.equal(statFault({ ...file, size: NaN }), 'size NaN');
  assert.equal(statFault({ ...file, size: '12' }), 'size "12"');
  assert.equal(statFault({ ...file, modified: 'yesterday' }), 'modified "yesterday"');
  assert.equal(statFault({ ...file, modified: new Date('nope') }), 'modified an invalid Date');
  assert.equal(statFault({ ...file, type: 'fifo' }), 'type "fifo"');
  assert.equal(statFault({ ...file, mode: undefined }), 'mode undefined');
  assert.equal(statFault(null), 'null for a FileStat');
  assert.equal(
    statFault({ ...file, type: 'dir', hiddenFile: { size: 1, modified: new Date(0) } }),
    undefined,
  );
  assert.equal(statFault({ ...file, hiddenFile: { modified: new Date(0) } }), 'hiddenFile.size undefined');
});

test('a Principal: username and home strings, readOnly a boolean, limits numbers ≥ 0', () => {
  const p = { username: 'alice', home: '', readOnly: false };
  assert.equal(principalFault(p), undefined);
  assert.equal(principalFault({ ...p, maxSessions: 2, folders: {}, permissions: { '/': '*' } }), undefined);
  assert.equal(principalFault({ username: 42, home: null }), 'principal.username 42');
  assert.equal(principalFault({ ...p, username: '' }), 'principal.username ""');
  assert.equal(principalFault({ ...p, home: null }), 'principal.home null');
  assert.equal(principalFault({ ...p, readOnly: 'yes' }), 'principal.readOnly "yes"');
  assert.equal(principalFault({ ...p, quotaSize: -1 }), 'principal.quotaSize -1');
  assert.equal(principalFault({ ...p, permissions: 'all' }), 'principal.permissions "all"');
});

test("a Principal's lists and maps: a string where a list belongs is named, not read letter by letter", () => {
  const p = { username: 'alice', home: '', readOnly: false };
  const full = {
    ...p,
    denyFiles: ['*.exe'],
    folders: { '/shared': 'team' },
    permissions: { '/': ['list', 'download'], '/in': '*' },
    hideDotFiles: true,
    anonymous: false,
  };
  assert.equal(principalFault(full), undefined);
  assert.equal(principalFault({ ...p, denyFiles: '*.exe' }), 'principal.denyFiles "*.exe"');
  assert.equal(principalFault({ ...p, denyFiles: ['*.exe', 5] }), 'principal.denyFiles[1] 5');
  assert.equal(principalFault({ ...p, folders: 5 }), 'principal.folders 5');
  assert.equal(principalFault({ ...p, folders: ['/a'] }), 'principal.folders an object');
  assert.equal(principalFault({ ...p, folders: { '/a': 1 } }), 'principal.folders["/a"] 1');
  assert.equal(principalFault({ ...p, permissions: { '/': 'all' } }), 'principal.permissions["/"] "all"');
  assert.equal(
    principalFault({ ...p, permissions: { '/': ['read'] } }),
    'principal.permissions["/"] an object',
  );
  assert.equal(principalFault({ ...p, hideDotFiles: 'yes' }), 'principal.hideDotFiles "yes"');
  assert.equal(principalFault({ ...p, anonymous: 1 }), 'principal.anonymous 1');
});

test('an AuthOutcome: a refusal as it is; a success needs a valid principal', () => {
  assert.equal(outcomeFault({ ok: false, reason: 'bad password' }), undefined);
  assert.equal(outcomeFault({ ok: true, principal: { username: 'a', home: '', readOnly: true } }), undefined);
  assert.equal(outcomeFault({ ok: true }), 'principal undefined');
  assert.equal(outcomeFault(undefined), 'undefined for an AuthOutcome');
  assert.equal(outcomeFault({ ok: 'yes' }), 'ok "yes"');
});
