import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withHint } from './hint-text.js';

test('a hint after a reply: a new sentence after one that ended, else after a semicolon', () => {
  const hint = 'if the account requires a client certificate, give --cert and --key';
  assert.equal(
    withHint('login refused: 530 Login incorrect.', hint),
    'login refused: 530 Login incorrect. If the account requires a client certificate, give --cert and --key',
  );
  assert.equal(withHint('login refused: 530 Denied', hint), `login refused: 530 Denied; ${hint}`);
  assert.equal(withHint('TLS failed: done! ', 'x'), 'TLS failed: done! X');
});
