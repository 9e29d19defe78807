import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printable, printableName } from './printable.js';

describe('printableName', () => {
  it('escapes bidi controls, so a name cannot reverse the rest of a row', () => {
    assert.equal(printableName('/\u202eTXT.exe/exe.gpj'), '/\\u202eTXT.exe/exe.gpj');
    for (const c of ['\u200e', '\u200f', '\u202a', '\u202d', '\u2066', '\u2069', '\ufeff', '\u200b']) {
      assert.equal(printableName(`a${c}b`), `a\\u${c.codePointAt(0)?.toString(16)}b`);
    }
    assert.equal(printableName('tag\u{e0041}'), 'tag\\u{e0041}');
  });

  it('escapes the line and paragraph separators and control characters', () => {
    assert.equal(printableName('a\u2028b\u2029c'), 'a\\u2028b\\u2029c');
    assert.equal(printableName('a\tb\nc\u001b[2J'), 'a\\tb\\nc\\u001b[2J');
  });

  it('keeps letters of every script, ZWJ emoji and ZWNJ as they are', () => {
    for (const name of ['résumé.txt', '日本語.txt', 'Ελληνικά', 'نامه\u200cها', '👩\u200d💻.png']) {
      assert.equal(printableName(name), name);
    }
  });

  it('shows bytes that are not UTF-8 as \\xNN', () => {
    assert.equal(printableName('l\udce9tin'), 'l\\xe9tin');
  });
});

describe('printable', () => {
  it('keeps line feeds but escapes bidi controls and separators', () => {
    assert.equal(printable('550 \u202eoops\nnext\u2028line'), '550 \\u202eoops\nnext\\u2028line');
  });
});
