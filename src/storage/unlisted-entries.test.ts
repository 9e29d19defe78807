import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameOnDisk, unlistedDetail } from './unlisted-entries.js';

describe('nameOnDisk', () => {
  it('gives the name of an addressable entry, else why it has none', () => {
    assert.deepEqual(nameOnDisk(Buffer.from('café.txt')), { name: 'café.txt' });
    assert.deepEqual(nameOnDisk(Buffer.from('caf\xe9.txt', 'latin1')), { unlisted: 'not-utf8' });
    assert.deepEqual(nameOnDisk(Buffer.from('a\nb')), { unlisted: 'unaddressable' });
    assert.deepEqual(nameOnDisk(Buffer.from('a\\b')), { unlisted: 'unaddressable' });
  });
});

describe('unlistedDetail', () => {
  it('names the kinds found, in a fixed order; all of them when none is known', () => {
    assert.equal(
      unlistedDetail(new Set(['special', 'not-utf8'])),
      'it holds entries that are not listed (names that are not valid UTF-8; FIFOs, sockets or devices)',
    );
    assert.equal(
      unlistedDetail(new Set()),
      'it holds entries that are not listed (names that are not valid UTF-8; names with a control character or a backslash; FIFOs, sockets or devices)',
    );
  });
});
