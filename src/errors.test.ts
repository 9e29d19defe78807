import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replyForError, StorageError } from './errors.js';

describe('replyForError', () => {
  test('a refused name is 553 where a name is created, 550 for the other commands (RFC 959)', () => {
    const err = new StorageError('name-not-allowed', 'a\\b');
    assert.equal(replyForError(err).reply.code, 553, 'default: as before');
    assert.equal(replyForError(err, { createsName: true }).reply.code, 553);
    const other = replyForError(err, { createsName: false }).reply;
    assert.deepEqual([other.code, other.lines], [550, ['File name not allowed.']]);
    // Other errors do not depend on the command.
    assert.equal(
      replyForError(new StorageError('limit', 'too many'), { createsName: false }).reply.code,
      553,
    );
  });

  test('no room is 550 where RFC 959 allows no 552 (MKD), naming a full disk; 552 elsewhere', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, mkdir'), { code: 'ENOSPC' });
    const full = new StorageError('quota-exceeded', 'mkdir /d: insufficient storage space', {
      cause: enospc,
    });
    const mkd = replyForError(full, { noStorageCode: true }).reply;
    assert.deepEqual([mkd.code, mkd.lines], [550, ["No space left on the server's disk."]]);
    const quota = replyForError(new StorageError('quota-exceeded', 'over quota'), {
      noStorageCode: true,
    }).reply;
    assert.deepEqual([quota.code, quota.lines], [550, ['Insufficient storage space.']]);
    assert.equal(replyForError(full).reply.code, 552, 'an upload: 552 as before');
  });
});
