import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Secret, type AccountListener, type Authenticator, type Principal } from '../auth/types.js';
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

test('a failing authenticate is accounts unavailable, logged; once its signal aborted, it is passed on', async () => {
  const inner: Authenticator = { authenticate: () => Promise.reject(new Error('ldap down')) };
  const { logger, errors } = recorder();
  const checked = checkedAuthenticator(inner, logger);
  const c = { username: 'alice', password: new Secret('pw'), remoteAddress: '127.0.0.1', tls: true };
  assert.deepEqual(await checked.authenticate(c, new AbortController().signal), {
    ok: false,
    unavailable: true,
    reason: 'options.authenticator: authenticate() rejected with Error: ldap down',
  });
  assert.deepEqual(errors, ['options.authenticator: authenticate() rejected with Error: ldap down']);
  // The client left (or the time limit passed): the check was dropped, not the authenticator's fault.
  await assert.rejects(checked.authenticate(c, AbortSignal.abort()), /ldap down/);
  assert.equal(errors.length, 1);
});
