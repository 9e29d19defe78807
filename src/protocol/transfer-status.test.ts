import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTransferStatus, parseTransferStatus } from './transfer-status.js';

test('a transfer status reads back as it was written; other text is no status', () => {
  for (const s of [
    { command: 'HASH', queued: true },
    { command: 'RETR', queued: false, bytes: 0 },
    { command: 'HASH', queued: false, bytes: 123456789 },
  ] as const)
    assert.deepEqual(parseTransferStatus(formatTransferStatus(s)), s);
  assert.equal(formatTransferStatus({ command: 'HASH', queued: true }), 'HASH waiting for its turn.');
  assert.equal(parseTransferStatus('Ferry FTPS server status:'), undefined);
  assert.equal(parseTransferStatus('HASH in progress: many bytes transferred.'), undefined);
});
