import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replyForError, StorageError } from './errors.js';

describe('replyForError', () => {
  test('a refused name is 553 where a name is created, 550 for the other commands (RFC 959)', () => {
    const err = new StorageError('name-not-allowed', 'a\\b');
    assert.equal(replyForError(err).reply.code, 553, 'no command: as the error says');
    assert.equal(replyForError(err, { verb: 'STOR' }).reply.code, 553);
    const other = replyForError(err, { verb: 'DELE' }).reply;
    assert.deepEqual([other.code, other.lines], [550, ['File name not allowed.']]);
    const mkd = replyForError(err, { verb: 'MKD' }).reply;
    assert.deepEqual([mkd.code, mkd.lines], [550, ['File name not allowed.']], 'MKD: 550 only');
  });

  test('a refusal STOR may not send as 550 is 553', () => {
    const r = replyForError(new StorageError('permission-denied', 'EACCES'), { verb: 'STOR' }).reply;
    assert.deepEqual([r.code, r.lines], [553, ['Permission denied.']]);
  });

  test('no room is 550 where RFC 959 allows no 552 (MKD), naming a full disk; 552 elsewhere', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, mkdir'), { code: 'ENOSPC' });
    const full = new StorageError('quota-exceeded', 'mkdir /d: insufficient storage space', {
      cause: enospc,
    });
    const mkd = replyForError(full, { verb: 'MKD' }).reply;
    assert.deepEqual([mkd.code, mkd.lines], [550, ["No space left on the server's disk."]]);
    const quota = replyForError(new StorageError('quota-exceeded', 'over quota'), { verb: 'MKD' }).reply;
    assert.deepEqual([quota.code, quota.lines], [550, ['Insufficient storage space.']]);
    assert.equal(replyForError(full, { verb: 'STOR' }).reply.code, 552, 'an upload: 552 as before');
  });
});
