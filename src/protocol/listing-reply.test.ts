import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from './codes.js';
import { listingProblem } from './listing-reply.js';
import { reply } from './reply.js';

test('a 226 that admits the listing is not the contents is read as such, on any line', () => {
  const vsftpd = reply(Code.ClosingDataSuccess, 'Transfer done (but failed to open directory).');
  assert.equal(listingProblem(vsftpd), 'unreadable');
  const pure = reply(Code.ClosingDataSuccess, 'Options: -a -l', 'Output truncated to 10000 matches');
  assert.equal(listingProblem(pure), 'truncated');
});

test('the usual 226 texts are no problem', () => {
  const texts: readonly (readonly [string, ...string[]])[] = [
    ['Directory send OK.'],
    ['Transfer complete'],
    ['Transfer complete.'],
    ['Options: -a -l', '12 matches total'],
    ['Closing data connection.'],
  ];
  for (const lines of texts)
    assert.equal(listingProblem(reply(Code.ClosingDataSuccess, ...lines)), undefined, lines.join(' | '));
});
