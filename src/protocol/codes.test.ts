import assert from 'node:assert/strict';
import { test } from 'node:test';

import { allowedAfterPreliminary, Code, wireCode } from './codes.js';

test('after a 150, only the replies RFC 959 5.4 lists for a transfer are allowed', () => {
  const allowed = [110, 226, 250, 425, 426, 451, 551, 552].map(wireCode);
  for (const code of allowed) assert.ok(allowedAfterPreliminary(code), String(code));
  for (const code of [Code.FileUnavailable, 553, 450, 530, 500].map(wireCode))
    assert.ok(!allowedAfterPreliminary(code), String(code));
});
