import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserTable } from '../auth/users.js';
import { MemoryStorage } from '../storage/memory.js';
import { resolveOptions, type ServerOptions } from './options.js';

const base: ServerOptions = {
  authenticator: new UserTable([]),
  storageFor: () => new MemoryStorage(),
};

test('defaults are secure: TLS 1.2+, session reuse required, no clear data, no CCC, no plain login', () => {
  const o = resolveOptions(base);
  assert.equal(o.minVersion, 'TLSv1.2');
  assert.equal(o.requireSessionReuse, true);
  assert.equal(o.allowClearData, false);
  assert.equal(o.allowCcc, false);
  assert.equal(o.allowPlainControl, false);
  assert.ok(o.explicit && o.implicit, 'both listeners on');
});

test('a bad option is refused at construction, naming the key and the fix', () => {
  assert.throws(() => resolveOptions({ ...base, passive: { portMin: 50100, portMax: 50000 } }), {
    code: 'ERR_INVALID_OPTION',
    message: /options\.passive: .*portMin <= portMax/,
  });
  assert.throws(() => resolveOptions({ ...base, explicit: { host: '::', port: 70000 } }), {
    message: /options\.explicit\.port/,
  });
  assert.throws(() => resolveOptions({ ...base, explicit: false, implicit: false }), {
    message: /at least one listener/,
  });
  assert.throws(
    () => resolveOptions({ ...base, authenticator: undefined as unknown as ServerOptions['authenticator'] }),
    {
      message: /options\.authenticator/,
    },
  );
});
