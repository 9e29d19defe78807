import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from './codes.js';
import { failureCode, fitReply } from './failure-codes.js';
import { reply } from './reply.js';

test('STOR and STOU send no 550 (RFC 959 5.4): 553, as vsftpd; 552 kept', () => {
  for (const verb of ['STOR', 'STOU']) {
    assert.equal(failureCode(verb, Code.FileUnavailable), Code.NameNotAllowed, verb);
    assert.equal(failureCode(verb, Code.NameNotAllowed), Code.NameNotAllowed, verb);
    assert.equal(failureCode(verb, Code.ExceededStorage), Code.ExceededStorage, verb);
  }
});

test('APPE may send 550, 552 and 553', () => {
  for (const code of [Code.FileUnavailable, Code.ExceededStorage, Code.NameNotAllowed])
    assert.equal(failureCode('APPE', code), code);
});

test('MKD sends 550 only: 553 and 552 become 550', () => {
  assert.equal(failureCode('MKD', Code.NameNotAllowed), Code.FileUnavailable);
  assert.equal(failureCode('MKD', Code.ExceededStorage), Code.FileUnavailable);
});

test('a command that creates no name sends no 553', () => {
  assert.equal(failureCode('DELE', Code.NameNotAllowed), Code.FileUnavailable);
  assert.equal(failureCode('RNTO', Code.NameNotAllowed), Code.NameNotAllowed);
});

test('other codes pass, and the text is kept', () => {
  assert.equal(failureCode('STOR', Code.LocalError), Code.LocalError);
  assert.equal(failureCode('STOR', Code.PageTypeUnknown), Code.PageTypeUnknown);
  assert.deepEqual(fitReply('STOR', reply(Code.FileUnavailable, 'Permission denied.')), {
    code: Code.NameNotAllowed,
    lines: ['Permission denied.'],
  });
});

test('a refusal whose code changes takes its refitted text; one whose code stays keeps its own', () => {
  const full = {
    ...reply(Code.ExceededStorage, 'Insufficient storage space.'),
    refitted: ["No space left on the server's disk."] as const,
  };
  assert.deepEqual(fitReply('MKD', full), {
    code: Code.FileUnavailable,
    lines: ["No space left on the server's disk."],
  });
  assert.deepEqual(fitReply('STOR', full), {
    code: Code.ExceededStorage,
    lines: ['Insufficient storage space.'],
  });
});
