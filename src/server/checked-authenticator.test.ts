import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccountListener, Authenticator, Principal } from '../auth/types.js';
import type { Logger } from '../logger.js';
import { checkedAuthenticator } from './checked-authenticator.js';

function recorder(): { logger: Logger; errors: string[] } {
  const errors: string[] = [];
  const noop = (): void => {};
  const logger: Logger = {
    debug: noop,
    info: noop,
    warn: noop,
    error: (_obj, msg = '') => errors.push(msg),
    child: () => logger,
  };
  return { logger, errors };
}

test('an account change with a malformed principal ends its sessions (as a removal), logged', () => {
  let tell: AccountListener = () => {};
  const inner: Authenticator = {
    authenticate: () => Promise.resolve({ ok: false, reason: 'unused' }),
    watch: (listener) => ((tell = listener), () => {}),
  };
  const { logger, errors } = recorder();
  const heard: [string, Principal | undefined][] = [];
  checkedAuthenticator(inner, logger).watch?.((name, p) => heard.push([name, p]));
  const good: Principal = { username: 'alice', home: '', readOnly: true };
  tell('alice', good);
  tell('bob', { username: 'bob', home: 7 } as unknown as Principal);
  tell('carol', undefined);
  assert.deepEqual(heard, [
    ['alice', good],
    ['bob', undefined],
    ['carol', undefined],
  ]);
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', /options\.authenticator: an account change gave principal\.home 7/);
});

test('no watch, no certificate login: the checked authenticator has none either', () => {
  const inner: Authenticator = { authenticate: () => Promise.resolve({ ok: false, reason: 'no' }) };
  const checked = checkedAuthenticator(inner, recorder().logger);
  assert.equal(checked.watch, undefined);
  assert.equal(checked.authenticateByCertificate, undefined);
});
