import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyParser, parseReplyText, replyText, type ReplyParseResult } from './reply-parser.js';
import { formatReply, reply, type Reply } from './reply.js';

function replies(results: ReplyParseResult[]): Reply[] {
  return results.map((r) => {
    assert.ok(r.kind === 'reply', JSON.stringify(r));
    return r.reply;
  });
}

test('single-line replies, CRLF and bare LF', () => {
  const p = new ReplyParser();
  assert.deepEqual(replies(p.push('220 Welcome\r\n331 Password?\n200\r\n')), [
    { code: 220, lines: ['Welcome'] },
    { code: 331, lines: ['Password?'] },
    { code: 200, lines: [''] },
  ]);
  assert.equal(p.inProgress, false);
});

test('multi-line reply with content that looks like other codes or 123-', () => {
  const text =
    '211-Features:\r\n AUTH TLS\r\n226 not the end\r\n211-still inside\r\n211x neither\r\n211 End\r\n';
  const p = new ReplyParser();
  assert.deepEqual(replies(p.push(text)), [
    {
      code: 211,
      lines: ['Features:', ' AUTH TLS', '226 not the end', '211-still inside', '211x neither', 'End'],
    },
  ]);
});

test('multi-line end line may be the bare code', () => {
  const p = new ReplyParser();
  assert.deepEqual(replies(p.push('230-Hello\r\nmore\r\n230\r\n')), [
    { code: 230, lines: ['Hello', 'more', ''] },
  ]);
});

test('every split point gives the same result, including inside UTF-8', () => {
  const buf = Buffer.from('150 Opening\r\n257-"/dïr" is\r\n current\r\n257 ok 日本\r\n', 'utf8');
  const expected = [
    { code: 150, lines: ['Opening'] },
    { code: 257, lines: ['"/dïr" is', ' current', 'ok 日本'] },
  ];
  for (let cut = 0; cut <= buf.length; cut++) {
    const p = new ReplyParser();
    const out = [...p.push(buf.subarray(0, cut)), ...p.push(buf.subarray(cut))];
    assert.deepEqual(replies(out), expected, `cut at ${cut}`);
  }
  const p = new ReplyParser();
  const out: ReplyParseResult[] = [];
  for (const b of buf) out.push(...p.push(Buffer.from([b])));
  assert.deepEqual(replies(out), expected);
});

test('partial reply is reported as in progress', () => {
  const p = new ReplyParser();
  assert.deepEqual(p.push('211-a\r\nb'), []);
  assert.equal(p.inProgress, true);
  assert.deepEqual(replies(p.push('\r\n211 c\r\n')), [{ code: 211, lines: ['a', 'b', 'c'] }]);
  assert.equal(p.inProgress, false);
});

test('garbage outside a reply is reported, blank lines ignored, parsing continues', () => {
  const p = new ReplyParser();
  const out = p.push('\r\nhello there\r\n200 ok\r\n');
  assert.equal(out.length, 2);
  assert.equal(out[0]?.kind, 'invalid');
  assert.deepEqual(out[1], { kind: 'reply', reply: { code: 200, lines: ['ok'] } });
});

test('overlong reply is reported once and parsing recovers', () => {
  const p = new ReplyParser({ maxReplyLength: 100 });
  const out = p.push('211-start\r\n' + 'x'.repeat(500));
  assert.equal(out.length, 1);
  assert.equal(out[0]?.kind, 'invalid');
  assert.deepEqual(p.push('yyy'), []);
  assert.deepEqual(replies(p.push('yyy\r\n200 ok\r\n')), [{ code: 200, lines: ['ok'] }]);
});

test('round trip with formatReply, including lines that look like codes', () => {
  const r = reply(250, 'first', '250 looks like an end', 'plain', 'last');
  const parsed = parseReplyText(formatReply(r));
  assert.ok(parsed);
  assert.equal(parsed.code, 250);
  assert.deepEqual(parsed.lines, ['first', ' 250 looks like an end', 'plain', 'last']);
});

test('parseReplyText accepts exactly one reply', () => {
  assert.deepEqual(parseReplyText('227 Entering Passive Mode (1,2,3,4,5,6).'), {
    code: 227,
    lines: ['Entering Passive Mode (1,2,3,4,5,6).'],
  });
  assert.equal(parseReplyText('200 a\r\n200 b\r\n'), undefined);
  assert.equal(parseReplyText('211-open\r\nnever closed\r\n'), undefined);
  assert.equal(parseReplyText('nonsense'), undefined);
});

test('replyText joins lines', () => {
  assert.equal(replyText(reply(211, 'a', 'b')), 'a\nb');
});

test('reset forgets a partial reply', () => {
  const p = new ReplyParser();
  p.push('211-a\r\n');
  p.reset();
  assert.deepEqual(replies(p.push('200 x\r\n')), [{ code: 200, lines: ['x'] }]);
});

test('bytes that are not UTF-8 are kept (byte-text.ts), at every split point', () => {
  const buf = Buffer.concat([
    Buffer.from('257 "/l', 'latin1'),
    Buffer.from([0xe9, 0xc3]),
    Buffer.from('tin" created\r\n', 'latin1'),
  ]);
  for (let cut = 0; cut <= buf.length; cut++) {
    const p = new ReplyParser();
    const out = [...p.push(buf.subarray(0, cut)), ...p.push(buf.subarray(cut))];
    assert.deepEqual(replies(out), [{ code: 257, lines: ['"/l\udce9\udcc3tin" created'] }], `cut at ${cut}`);
  }
});

test('a reader that reuses its buffer between chunks does not change a reply split across them', () => {
  const p = new ReplyParser();
  const chunk = Buffer.from('226 Transfer ');
  assert.deepEqual(p.push(chunk), []);
  chunk.fill('x'); // the reader's next read lands in the same memory
  assert.deepEqual(replies(p.push(Buffer.from('complete.\r\n'))), [
    { code: 226, lines: ['Transfer complete.'] },
  ]);
});
