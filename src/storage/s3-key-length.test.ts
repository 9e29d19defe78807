import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError, replyForError } from '../errors.js';
import { MAX_KEY_BYTES, checkKeyLength, keyTooLong } from './s3-key-length.js';

test('a key is too long past 1,024 bytes of UTF-8, not characters', () => {
  assert.equal(keyTooLong('k'.repeat(MAX_KEY_BYTES)), false);
  assert.equal(keyTooLong('k'.repeat(MAX_KEY_BYTES + 1)), true);
  assert.equal(keyTooLong('é'.repeat(512)), false); // 1,024 bytes
  assert.equal(keyTooLong(`${'é'.repeat(512)}k`), true); // 513 characters, 1,025 bytes
  assert.equal(keyTooLong('😀'.repeat(257)), true); // 514 UTF-16 units, 1,028 bytes
});

test('a key too long is refused with one clear 553', () => {
  assert.doesNotThrow(() => checkKeyLength('k'.repeat(MAX_KEY_BYTES)));
  assert.throws(
    () => checkKeyLength('é'.repeat(513)),
    (err: unknown) => {
      assert.ok(err instanceof StorageError);
      const { reply, unknown } = replyForError(err);
      assert.equal(unknown, false);
      assert.equal(reply.code, 553);
      assert.deepEqual(reply.lines, ['Name too long for this storage (S3 keys are at most 1024 bytes).']);
      return true;
    },
  );
});
