import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBytes, encodeText, hasRawBytes, percentDecode, showRawBytes } from './byte-text.js';

test('valid UTF-8 is unchanged both ways', () => {
  for (const s of ['plain.txt', 'ünï 日本 😀.txt', '']) {
    assert.equal(decodeBytes(Buffer.from(s, 'utf8')), s);
    assert.deepEqual(encodeText(s), Buffer.from(s, 'utf8'));
    assert.equal(hasRawBytes(s), false);
  }
});

test('bytes that are not UTF-8 round-trip byte for byte, shown as \\xNN', () => {
  const cases = [
    Buffer.from('l\xe9tin.txt', 'latin1'),
    Buffer.from([0xff, 0xfe, 0x41]),
    Buffer.from([0xc3]), // a lead byte cut short
    Buffer.from([0xed, 0xb3, 0xa9]), // UTF-8 of a lone surrogate (invalid)
    Buffer.from([0xe0, 0x80, 0x80]), // overlong
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
    Buffer.concat([Buffer.from('é/', 'utf8'), Buffer.from([0xe9]), Buffer.from('😀', 'utf8')]),
  ];
  for (const b of cases) {
    const text = decodeBytes(b);
    assert.ok(!text.includes('\ufffd'), JSON.stringify(text));
    assert.deepEqual(encodeText(text), b, b.toString('hex'));
  }
  assert.equal(decodeBytes(Buffer.from('l\xe9tin.txt', 'latin1')), 'l\udce9tin.txt');
  assert.equal(showRawBytes('l\udce9tin \udcff.txt é'), 'l\\xe9tin \\xff.txt é');
  // A surrogate pair whose low half is in the range is a character, not a byte.
  assert.equal(showRawBytes('\ud83d\udc80'), '\ud83d\udc80');
  assert.deepEqual(encodeText('\ud83d\udc80'), Buffer.from('💀', 'utf8'));
});

test('percent-decoding takes bytes that are not UTF-8', () => {
  assert.equal(percentDecode('l%E9tin.txt'), 'l\udce9tin.txt');
  assert.equal(percentDecode('%C3%A9t%C3%A9%20x'), 'été x');
  assert.equal(percentDecode('a%2Fb'), 'a/b');
  assert.equal(percentDecode('100%'), undefined);
  assert.equal(percentDecode('%zz'), undefined);
});

test('a byte order mark is a character of the name, kept wherever it is', () => {
  // A name beginning with U+FEFF is another file than the one without it (TextDecoder drops it).
  assert.equal(decodeBytes(Buffer.from('\ufeffnotes.txt', 'utf8')), '\ufeffnotes.txt');
  assert.equal(percentDecode('%EF%BB%BFnotes.txt'), '\ufeffnotes.txt');
  // After a byte that is not UTF-8 the rest is decoded on its own: its mark stays too.
  const mixed = Buffer.concat([Buffer.from([0xe9]), Buffer.from('\ufeffx', 'utf8')]);
  assert.equal(decodeBytes(mixed), '\udce9\ufeffx');
  assert.deepEqual(encodeText(decodeBytes(mixed)), mixed);
});
