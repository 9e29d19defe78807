import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError } from '../errors.js';
import type { Logger } from '../logger.js';
import { mapFsError, storageError } from '../storage/fs-errors.js';
import { OUT_OF_DESCRIPTORS, warnOutOfDescriptors } from './descriptors.js';
import { causeOf, warnStorageError } from './storage-warnings.js';
import { WarningLimiter } from './warning-limiter.js';

const errno = (code: string): Error => Object.assign(new Error(`${code}: system error`), { code });

test("a read-only or full file system is warned of; a user over quota is not, the filesystem refusing the server's user is an info line", () => {
  const lines: string[] = [];
  const noop = (): void => {};
  const logger: Logger = {
    debug: noop,
    info: (_obj, msg = '') => lines.push(`info: ${msg}`),
    warn: (_obj, msg = '') => lines.push(msg),
    error: noop,
    child: () => logger,
  };
  const limiter = new WarningLimiter(logger);
  const warn = (err: unknown): void => warnStorageError(limiter, logger, err, { user: 'u', command: 'STOR' });
  warn(storageError('permission-denied', 'write', '/a', errno('EROFS')));
  warn(storageError('quota-exceeded', 'write', '/a', errno('ENOSPC')));
  warn(storageError('quota-exceeded', 'write', '/a', errno('EDQUOT')));
  warn(storageError('permission-denied', 'write', '/a', errno('EACCES')));
  warn(new StorageError('quota-exceeded', 'over the user quota')); // Ferry's own quota: the user's business
  limiter.dispose();
  assert.deepEqual(lines, [
    'storage is read-only (EROFS): changes get 550 (553 to STOR)',
    'storage full (ENOSPC): uploads get 552',
    'storage full (EDQUOT): uploads get 552',
    "info: the filesystem refused the server's user (EACCES)",
  ]);
});

test("the cause names the root error once: a system error's message starts with its code already", () => {
  const sys = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  assert.equal(
    causeOf(storageError('quota-exceeded', 'write', '/a', sys)),
    'ENOSPC: no space left on device, write',
  );
  const sdk = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  assert.equal(causeOf(new Error('outer', { cause: sdk })), 'ECONNRESET: socket hang up');
  const named = Object.assign(new Error('The bucket is gone'), { name: 'NoSuchBucket' });
  assert.equal(causeOf(new Error('outer', { cause: named })), 'NoSuchBucket: The bucket is gone');
});

test('a storage call out of descriptors logs the out-of-descriptors warning, limited as the accept and PASV ones', () => {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (obj, msg = '') => lines.push(`${(obj as { what?: string }).what} ${msg}`),
    error: () => {},
    child: () => logger,
  };
  const limiter = new WarningLimiter(logger, { perWindow: 2, windowMs: 60_000, maxEntries: 10 });
  for (let i = 0; i < 3; i++)
    warnStorageError(limiter, logger, mapFsError(errno('EMFILE'), 'open', '/d'), { command: 'SIZE' });
  warnOutOfDescriptors(logger, limiter, 'passive listen'); // the same limit: suppressed too
  assert.deepEqual(lines, [`storage ${OUT_OF_DESCRIPTORS}`, `storage ${OUT_OF_DESCRIPTORS}`]);
  limiter.dispose();
  assert.match(lines[2] ?? '', /suppressed 2 similar/);
});

test('an errno Ferry does not map (EIO, ESTALE) is warned of, naming it, not only answered 450', () => {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_obj, msg = '') => lines.push(msg),
    error: () => {},
    child: () => logger,
  };
  const limiter = new WarningLimiter(logger);
  for (const code of ['EIO', 'ESTALE'])
    warnStorageError(limiter, logger, mapFsError(errno(code), 'read', '/f'), { command: 'RETR' });
  // A transient refusal of Ferry's own (the file changed during an upload) is no fault to report.
  warnStorageError(limiter, logger, new StorageError('transient', 'the file changed'), { command: 'STOR' });
  limiter.dispose();
  assert.deepEqual(lines, [
    'storage failed (EIO): commands get 450',
    'storage failed (ESTALE): commands get 450',
  ]);
});
