import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError } from '../errors.js';
import { mapFsError } from '../storage/fs-errors.js';
import { refusedForGood } from './refused-for-good.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

test('a filesystem refusal is for good, raw or mapped', () => {
  for (const code of ['EACCES', 'EPERM', 'EROFS']) {
    assert.equal(refusedForGood(errno(code)), true, code);
    assert.equal(refusedForGood(mapFsError(errno(code), 'write', '/f')), true, `${code} mapped`);
  }
});

test('an S3 permission-denied (expired token, skewed clock) is not: a retry may pass (451)', () => {
  const expired = Object.assign(new Error('The provided token has expired.'), { name: 'ExpiredToken' });
  assert.equal(refusedForGood(new StorageError('permission-denied', 'write /f', { cause: expired })), false);
  assert.equal(refusedForGood(new StorageError('permission-denied', 'write /f')), false);
});

test("an access rule's refusal is (a drop box upload finding the file made meanwhile: 551)", () => {
  const rule = new StorageError('permission-denied', 'write /f: made meanwhile', { permission: 'overwrite' });
  assert.equal(refusedForGood(rule), true);
});

test('other errors are not', () => {
  assert.equal(refusedForGood(errno('ENOSPC')), false);
  assert.equal(refusedForGood(errno('EIO')), false);
  assert.equal(refusedForGood(undefined), false);
});
