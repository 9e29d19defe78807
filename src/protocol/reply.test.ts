import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, wireCode } from './codes.js';
import {
  clearTextReply,
  isNegative,
  isPermanentNegative,
  isPositiveCompletion,
  isPositiveIntermediate,
  isPreliminary,
  formatMiddle,
  formatOpening,
  formatReply,
  reply,
} from './reply.js';

test('reply classes by first digit; 6xx (protected replies) counts as a refusal', () => {
  const classes = (n: number): string[] => {
    const r = reply(wireCode(n), 'x');
    const names: [string, boolean][] = [
      ['1xx', isPreliminary(r)],
      ['2xx', isPositiveCompletion(r)],
      ['3xx', isPositiveIntermediate(r)],
      ['neg', isNegative(r)],
      ['5xx', isPermanentNegative(r)],
    ];
    return names.filter(([, on]) => on).map(([name]) => name);
  };
  assert.deepEqual(classes(Code.FileStatusOkOpeningData), ['1xx']);
  assert.deepEqual(classes(199), ['1xx']);
  assert.deepEqual(classes(Code.Ok), ['2xx']);
  assert.deepEqual(classes(299), ['2xx']);
  assert.deepEqual(classes(Code.PendingFurtherInfo), ['3xx']);
  assert.deepEqual(classes(399), ['3xx']);
  assert.deepEqual(classes(Code.TransferAborted), ['neg']);
  assert.deepEqual(classes(499), ['neg']);
  assert.deepEqual(classes(Code.FileUnavailable), ['neg', '5xx']);
  assert.deepEqual(classes(632), ['neg', '5xx']);
});

test('wire format: multi-line replies, an end-like middle line indented, no control character echoed', () => {
  assert.equal(formatReply(reply(Code.Ok, 'one')), '200 one\r\n');
  assert.equal(formatReply(reply(Code.Ok, 'a', '200 b', 'c')), '200-a\r\n 200 b\r\n200 c\r\n');
  // A user name typed with a terminal escape comes back harmless; a line break never splits a reply.
  assert.equal(
    formatReply(reply(Code.NeedPassword, 'Password required for x\x1b[31my\x7f\u009b.')),
    '331 Password required for x?[31my??.\r\n',
  );
  assert.equal(formatReply(reply(Code.Ok, 'a\r\nb')), '200 a b\r\n');
  // Written piece by piece (a streamed STAT), the same bytes as the whole reply.
  const pieces = formatOpening(Code.DirectoryStatus, 'Status of /:') + formatMiddle(['x', '212 y']);
  assert.equal(
    pieces + formatReply(reply(Code.DirectoryStatus, 'End.')),
    formatReply(reply(Code.DirectoryStatus, 'Status of /:', 'x', '212 y', 'End.')),
  );
});

test('a reply in clear where TLS was due is read from its first line; TLS bytes are none', () => {
  assert.deepEqual(clearTextReply(Buffer.from('421 There are too many connections.\r\n')), {
    code: 421,
    text: 'There are too many connections.',
  });
  assert.deepEqual(clearTextReply(Buffer.from('220-Welcome\r\n220 ready\r\n')), {
    code: 220,
    text: 'Welcome',
  });
  assert.equal(clearTextReply(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x10])), undefined);
  assert.equal(clearTextReply(Buffer.from('421 no line end yet')), undefined);
});
