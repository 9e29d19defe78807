import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHashLines } from './hash-lines.js';

const APR1 = '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1'; // openssl passwd -apr1

describe('parseHashLines', () => {
  it('takes a passwd-style line’s own home, else home base + name, else the default storage', () => {
    const text = `ann:${APR1}:1001:1001:Ann:/srv/ftp/ann:/bin/false\nbob:${APR1}\n`;
    assert.deepEqual(parseHashLines(text, '/homes').accounts, [
      { username: 'ann', passwordHash: APR1, home: '/srv/ftp/ann' },
      { username: 'bob', passwordHash: APR1, home: '/homes/bob' },
    ]);
    assert.equal(parseHashLines(`bob:${APR1}`, undefined).accounts[0]?.home, '');
  });

  it('skips duplicates, bad names and relative homes, keeping the first entry', () => {
    const text = [`ann:${APR1}`, `ann:${APR1}`, `a b:${APR1}`, `cy:${APR1}:1:1::ftp/cy:/bin/sh`].join('\n');
    const { accounts, skipped } = parseHashLines(text, '/homes');
    assert.deepEqual(
      accounts.map((a) => a.username),
      ['ann'],
    );
    assert.deepEqual(
      skipped.map((s) => [s.line, s.name]),
      [
        [2, 'ann'],
        [3, 'a b'],
        [4, 'cy'],
      ],
    );
  });
});
