import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, wireCode } from './codes.js';
import {
  isNegative,
  isPermanentNegative,
  isPositiveCompletion,
  isPositiveIntermediate,
  isPreliminary,
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
