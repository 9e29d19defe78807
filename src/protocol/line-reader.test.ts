import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineReader, type LineResult } from './line-reader.js';

function drain(r: LineReader): LineResult[] {
  return [...r];
}

function lines(...texts: string[]): LineResult[] {
  return texts.map((line) => ({ kind: 'line', line }));
}

test('CRLF and bare LF terminate lines; trailing CR removed', () => {
  const r = new LineReader();
  r.push(Buffer.from('USER bob\r\nPASS x\nNOOP\r\n'));
  assert.deepEqual(drain(r), lines('USER bob', 'PASS x', 'NOOP'));
  assert.equal(r.next(), undefined);
});

test('every trailing CR is removed (NOOP CR CR LF, as vsftpd takes it); inner CR kept', () => {
  const r = new LineReader();
  r.push(Buffer.from('A\rB\r\r\nNOOP\r\r\r\n\r\r\n'));
  assert.deepEqual(drain(r), lines('A\rB', 'NOOP', ''));
});

test('trailing CRs do not count toward maxLineBytes', () => {
  const r = new LineReader({ maxLineBytes: 4 });
  r.push(Buffer.from('abcd\r\r\nabcde\r\r\n'));
  assert.deepEqual(drain(r), [...lines('abcd'), { kind: 'too-long' }]);
});

test('lines split at every byte boundary', () => {
  const input = Buffer.from('STOR my file.txt\r\nRETR -rf\r\n', 'utf8');
  for (let cut = 0; cut <= input.length; cut++) {
    const r = new LineReader();
    const out: LineResult[] = [];
    r.push(input.subarray(0, cut));
    out.push(...drain(r));
    r.push(input.subarray(cut));
    out.push(...drain(r));
    assert.deepEqual(out, lines('STOR my file.txt', 'RETR -rf'), `cut at ${cut}`);
  }
});

test('one byte at a time, including CR/LF split and multi-byte UTF-8', () => {
  const input = Buffer.from('CWD Ünïcødé 日本\r\nPWD\r\n', 'utf8');
  const r = new LineReader();
  const out: LineResult[] = [];
  for (const byte of input) {
    r.push(Buffer.from([byte]));
    out.push(...drain(r));
  }
  assert.deepEqual(out, lines('CWD Ünïcødé 日本', 'PWD'));
});

test('empty lines are returned as empty strings', () => {
  const r = new LineReader();
  r.push(Buffer.from('\r\n\n'));
  assert.deepEqual(drain(r), lines('', ''));
});

test('Telnet IP + Synch before ABOR is stripped', () => {
  const r = new LineReader();
  r.push(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r\n')]));
  assert.deepEqual(drain(r), lines('ABOR'));
});

test("ABOR after Telnet IP + Synch, split anywhere; also BSD ftp's on a plain connection", () => {
  // BSD ftp sends IAC IP IAC as urgent data, then DM ABOR: without SO_OOBINLINE the kernel drops the
  // urgent byte (the second IAC), leaving IAC IP, DM, ABOR.
  for (const telnet of [
    [0xff, 0xf4, 0xff, 0xf2],
    [0xff, 0xf4, 0xf2],
  ]) {
    const input = Buffer.from([...telnet, ...Buffer.from('ABOR\r\n')]);
    for (let cut = 0; cut <= input.length; cut++) {
      const r = new LineReader();
      r.push(input.subarray(0, cut));
      const out = drain(r);
      r.push(input.subarray(cut));
      out.push(...drain(r));
      assert.deepEqual(out, lines('ABOR'), `${telnet.length}-byte Telnet prefix, cut at ${cut}`);
    }
  }
});

test('IAC IAC is a literal 0xFF byte; WILL/WONT/DO/DONT and their option are dropped before the verb', () => {
  const r = new LineReader();
  r.push(Buffer.from([0xff, 0xfb, 0x01, 0xff, 0xfe, 0x18, 0x41, 0xff, 0xff, 0x42, 0x0d, 0x0a]));
  r.push(Buffer.from([0xff, 0xff, 0x41, 0x0d, 0x0a]));
  // 0xFF is data (not stripped), and alone it is not UTF-8: the line says so.
  assert.deepEqual(drain(r), [
    { kind: 'not-utf8', line: 'A\uFFFDB', bytes: Buffer.from('A\xffB', 'latin1') },
    { kind: 'not-utf8', line: '\uFFFDA', bytes: Buffer.from('\xffA', 'latin1') },
  ]);
});

test('after the verb every IAC stays: whatever follows it, the line is not UTF-8, never another name', () => {
  // Stripped, 'DELE victim<IAC><x>.txt' would delete victim.txt (or victim<x>.txt).
  for (let x = 0; x <= 0xff; x++) {
    const r = new LineReader();
    r.push(Buffer.from([...Buffer.from('DELE victim'), 0xff, x, ...Buffer.from('.txt\r\n')]));
    const [res] = drain(r);
    assert.equal(res?.kind, 'not-utf8', `IAC 0x${x.toString(16)}: ${JSON.stringify(res)}`);
  }
  const r = new LineReader();
  r.push(Buffer.from([...Buffer.from('DELE victim.txt'), 0xff, 0x0d, 0x0a]));
  r.push(Buffer.from([...Buffer.from('CWD '), 0xc3, 0xff, 0xf4, 0xa9, 0x0d, 0x0a])); // IAC IP inside 'é'
  r.push(Buffer.from([...Buffer.from('RNTO a'), 0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('b\r\n')]));
  assert.deepEqual(
    drain(r).map((x) => x.kind),
    ['not-utf8', 'not-utf8', 'not-utf8'],
  );
});

test('a line that is not UTF-8 is marked, never passed off as a line with U+FFFD in it', () => {
  const r = new LineReader();
  r.push(Buffer.from('STOR r\xe9sum\xe9.txt\r\nSTOR r\xe8sum\xe8.txt\r\n', 'latin1'));
  r.push(Buffer.from([0x4d, 0x4b, 0x44, 0x20, 0xc3, 0x0d, 0x0a])); // a truncated sequence
  r.push(Buffer.from([0x43, 0x57, 0x44, 0x20, 0xed, 0xa0, 0x80, 0x0a])); // a lone surrogate
  r.push(Buffer.from([0x43, 0x57, 0x44, 0x20, 0xc0, 0xaf, 0x0a])); // an overlong '/'
  assert.deepEqual(
    drain(r).map((x) => x.kind),
    ['not-utf8', 'not-utf8', 'not-utf8', 'not-utf8', 'not-utf8'],
  );
});

test('valid UTF-8 stays a line: U+FFFD itself, 4-byte characters, after a Telnet command', () => {
  const r = new LineReader();
  r.push(Buffer.from('STOR a\uFFFDb \u{1F600}\r\n', 'utf8'));
  r.push(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('CWD \u00e9\r\n', 'utf8')]));
  assert.deepEqual(drain(r), lines('STOR a\uFFFDb \u{1F600}', 'CWD \u00e9'));
});

test('an option byte equal to LF does not end the line', () => {
  const r = new LineReader();
  r.push(Buffer.from([0xff, 0xfd, 0x0a, 0x4e, 0x4f, 0x4f, 0x50, 0x0d, 0x0a]));
  assert.deepEqual(drain(r), lines('NOOP'));
  // After the verb too (the sequence is kept, so the line is refused, but it is one line).
  r.push(Buffer.from([0x4e, 0x4f, 0xff, 0xfd, 0x0a, 0x4f, 0x50, 0x0d, 0x0a]));
  assert.deepEqual(drain(r), [
    { kind: 'not-utf8', line: 'NO\uFFFD\uFFFD\nOP', bytes: Buffer.from('NO\xff\xfd\nOP', 'latin1') },
  ]);
});

test('WILL waiting for its option byte waits for more data', () => {
  const r = new LineReader();
  r.push(Buffer.from([0xff, 0xfb]));
  assert.equal(r.next(), undefined);
  r.push(Buffer.from([0x0a, 0x4e, 0x4f, 0x0a]));
  assert.deepEqual(drain(r), lines('NO'));
});

test('a stray IAC (not a Telnet command) is kept as 0xFF, before the verb too', () => {
  const r = new LineReader();
  r.push(Buffer.from([0x41, 0xff, 0x42, 0x0a, 0xff, 0x41, 0x0a]));
  assert.deepEqual(drain(r), [
    { kind: 'not-utf8', line: 'A\uFFFDB', bytes: Buffer.from('A\xffB', 'latin1') },
    { kind: 'not-utf8', line: '\uFFFDA', bytes: Buffer.from('\xffA', 'latin1') },
  ]);
});

test('overlong line in small chunks: ONE too-long, bounded buffer, later lines work', () => {
  const r = new LineReader({ maxLineBytes: 4096 });
  const out: LineResult[] = [];
  let maxBuffered = 0;
  const chunk = Buffer.alloc(1000, 0x61);
  for (let i = 0; i < 100; i++) {
    r.push(chunk);
    out.push(...drain(r));
    maxBuffered = Math.max(maxBuffered, r.bufferedBytes);
  }
  r.push(Buffer.from('aaa\r\nNOOP\r\n'));
  out.push(...drain(r));
  assert.deepEqual(out, [{ kind: 'too-long' }, ...lines('NOOP')]);
  assert.ok(maxBuffered <= 4097, `buffered ${maxBuffered}`);
});

test('overlong line in one chunk with its terminator and a following line', () => {
  const r = new LineReader({ maxLineBytes: 10 });
  r.push(Buffer.from(`${'x'.repeat(100_000)}\r\nPWD\r\n`));
  assert.deepEqual(drain(r), [{ kind: 'too-long' }, ...lines('PWD')]);
});

test('exactly maxLineBytes is accepted, one more is too long (CR not counted)', () => {
  const r = new LineReader({ maxLineBytes: 8 });
  r.push(Buffer.from('12345678\r\n123456789\r\nok\n'));
  assert.deepEqual(drain(r), [...lines('12345678'), { kind: 'too-long' }, ...lines('ok')]);
});

test('a max-length line whose CR and LF arrive separately is not too long', () => {
  const r = new LineReader({ maxLineBytes: 4 });
  r.push(Buffer.from('abcd\r'));
  assert.equal(r.next(), undefined);
  r.push(Buffer.from('\n'));
  assert.deepEqual(drain(r), lines('abcd'));
});

test('discarding continues across chunks until LF', () => {
  const r = new LineReader({ maxLineBytes: 8 });
  r.push(Buffer.from('abcdefghijk'));
  assert.deepEqual(drain(r), [{ kind: 'too-long' }]);
  r.push(Buffer.from('more junk'));
  assert.deepEqual(drain(r), []);
  assert.equal(r.bufferedBytes, 0);
  r.push(Buffer.from('junk\nUSER a\n'));
  assert.deepEqual(drain(r), lines('USER a'));
});

test('takeRemainder returns raw unconsumed bytes (no IAC stripping) and clears', () => {
  const r = new LineReader();
  const hello = Buffer.from([0x16, 0x03, 0x01, 0xff, 0xf4, 0x0a, 0x00]);
  r.push(Buffer.concat([Buffer.from('AUTH TLS\r\n'), hello]));
  assert.deepEqual(r.next(), { kind: 'line', line: 'AUTH TLS' });
  assert.deepEqual(r.takeRemainder(), hello);
  assert.equal(r.bufferedBytes, 0);
  assert.equal(r.next(), undefined);
  assert.deepEqual(r.takeRemainder(), Buffer.alloc(0));
});

test('clear() forgets partial data and discard state', () => {
  const r = new LineReader({ maxLineBytes: 4 });
  r.push(Buffer.from('toolongline'));
  assert.deepEqual(drain(r), [{ kind: 'too-long' }]);
  r.clear();
  r.push(Buffer.from('PWD\n'));
  assert.deepEqual(drain(r), lines('PWD'));
});

test('invalid maxLineBytes is rejected', () => {
  assert.throws(() => new LineReader({ maxLineBytes: 0 }), RangeError);
});

test('hasLines counts the complete lines still buffered, not those taken nor a partial one', () => {
  const r = new LineReader();
  r.push(Buffer.from('STAT\r\nSTAT\r\nSTAT\r\nST'));
  assert.equal(r.hasLines(3), true);
  assert.equal(r.hasLines(4), false);
  r.next();
  assert.equal(r.hasLines(2), true);
  assert.equal(r.hasLines(3), false);
});
