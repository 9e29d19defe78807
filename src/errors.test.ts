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
});
