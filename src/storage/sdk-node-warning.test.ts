import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutNodeVersionWarning } from './sdk-node-warning.js';

const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

test("the SDK's switch is on while the client is made, and the environment is left as it was", (t) => {
  const before = process.env[SWITCH];
  t.after(() => {
    if (before === undefined) delete process.env[SWITCH];
    else process.env[SWITCH] = before;
  });
  delete process.env[SWITCH];
  assert.equal(
    withoutNodeVersionWarning(() => process.env[SWITCH]),
    'true',
  );
  assert.equal(process.env[SWITCH], undefined);
  assert.throws(() => withoutNodeVersionWarning(() => assert.fail('the client failed')), /the client failed/);
  assert.equal(process.env[SWITCH], undefined, 'left unset after a throw too');
  // The operator's own value wins: "false" shows the warning.
  process.env[SWITCH] = 'false';
  assert.equal(
    withoutNodeVersionWarning(() => process.env[SWITCH]),
    'false',
  );
  assert.equal(process.env[SWITCH], 'false');
});
