import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommand } from './command.js';
import {
  Crc32,
  findHashReply,
  formatHashFeat,
  formatHashReply,
  parseHashAlgorithm,
  parseHashReply,
} from './hash.js';

test('CRC32 is the IEEE one (check value of "123456789"), fed whole or in pieces', () => {
  assert.equal(new Crc32().update(Buffer.from('123456789')).digest(), 'cbf43926');
  assert.equal(new Crc32().update(Buffer.from('1234')).update(Buffer.from('56789')).digest(), 'cbf43926');
  assert.equal(new Crc32().digest(), '00000000');
});

test('algorithm names are case-insensitive; others are refused', () => {
  assert.equal(parseHashAlgorithm('sha-512'), 'SHA-512');
  assert.equal(parseHashAlgorithm('CRC32'), 'CRC32');
  assert.equal(parseHashAlgorithm('SHA-3'), undefined);
});

test('FEAT marks the selected algorithm; the 213 text carries the range and the digest', () => {
  assert.equal(formatHashFeat('MD5'), 'HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32');
  const text = formatHashReply('SHA-256', 5, 'ab12', 'dir/a b');
  assert.equal(text, 'SHA-256 0-5 ab12 dir/a b');
  assert.deepEqual(parseHashReply(text), { algorithm: 'SHA-256', start: 0, end: 5, hex: 'ab12' });
  assert.equal(parseHashReply('not a hash'), undefined);
});

test('HASH takes a path; OPTS HASH asks or selects, an unknown algorithm is a 501', () => {
  const hash = parseCommand('HASH a file');
  assert.ok(hash.kind === 'command' && hash.command.verb === 'HASH' && hash.command.path === 'a file');
  const ask = parseCommand('OPTS HASH');
  assert.ok(ask.kind === 'command' && ask.command.verb === 'OPTS');
  assert.deepEqual(ask.command.option, { name: 'HASH', algorithm: undefined });
  const pick = parseCommand('OPTS HASH md5');
  assert.ok(pick.kind === 'command' && pick.command.verb === 'OPTS');
  assert.deepEqual(pick.command.option, { name: 'HASH', algorithm: 'MD5' });
  const bad = parseCommand('OPTS HASH SHA-3');
  assert.ok(bad.kind === 'bad-argument' && bad.code === 501);
});

test("a multi-line 213 gives its checksum line wherever it is (ProFTPD's comes last)", () => {
  const hex = 'a'.repeat(64);
  const want = { algorithm: 'SHA-256', start: 0, end: 2, hex };
  assert.deepEqual(findHashReply(['Computing SHA-256 digest', `SHA-256 0-2 ${hex} f`]), want);
  assert.deepEqual(findHashReply([`SHA-256 0-2 ${hex} f`, 'End']), want);
  assert.deepEqual(findHashReply(['Computing', `213-SHA-256 0-2 ${hex} f`, 'End']), want);
  assert.deepEqual(findHashReply(['Computing', `  SHA-256 0-2 ${hex} f`, 'End']), want);
  assert.equal(findHashReply(['Computing SHA-256 digest', 'done']), undefined);
});
