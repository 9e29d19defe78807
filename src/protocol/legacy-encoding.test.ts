import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEGACY_ENCODINGS, LegacyCharset, isLegacyEncoding } from './legacy-encoding.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

test('cp1252 reads a Windows name, 0x80-0x9F included, and sends it back as the same bytes', () => {
  const cp = new LegacyCharset('cp1252');
  assert.equal(cp.decode(bytes('caf\xe9 \x80 \x9c.txt')), 'café € œ.txt');
  assert.deepEqual(cp.encode('café € œ.txt'), bytes('caf\xe9 \x80 \x9c.txt'));
});

test('latin1 is ISO-8859-1 itself: no euro sign, so € is unencodable', () => {
  const l1 = new LegacyCharset('latin1');
  assert.equal(l1.decode(bytes('d\xfcr')), 'dür');
  assert.equal(l1.holds('dür'), true);
  assert.equal(l1.holds('€'), false);
  assert.deepEqual(l1.encode('5€'), bytes('5?'));
});

test('a character the set cannot hold is one ?, a surrogate pair too; ASCII passes as it is', () => {
  const cp = new LegacyCharset('cp1252');
  assert.equal(cp.byteString('a\u{1F600}Жb'), 'a??b');
  assert.equal(cp.holds('Жb'), false);
  assert.equal(cp.byteString('plain.txt'), 'plain.txt');
});

test('every set maps its 256 bytes to 256 different characters and back (no two names read as one)', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const name of LEGACY_ENCODINGS) {
    const cs = new LegacyCharset(name);
    const text = cs.decode(all);
    assert.ok(text !== undefined, name);
    assert.equal(new Set(text).size, 256, name);
    assert.deepEqual(cs.encode(text), Buffer.from(all), name);
  }
});

test('cp1251 and koi8-r read Cyrillic', () => {
  assert.equal(new LegacyCharset('cp1251').decode(bytes('\xc4\xe0')), 'Да');
  assert.equal(new LegacyCharset('koi8-r').decode(bytes('\xe4\xc1')), 'Да');
});

test('isLegacyEncoding takes only the listed names', () => {
  assert.equal(isLegacyEncoding('cp1252'), true);
  assert.equal(isLegacyEncoding('utf8'), false);
  assert.equal(isLegacyEncoding('toString'), false);
});
