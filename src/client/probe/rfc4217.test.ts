import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Code } from '../../protocol/codes.js';
import { reply } from '../../protocol/reply.js';
import { userInClearVerdict } from './rfc4217.js';

test('USER in clear: refused passes, taken fails for a real account', () => {
  assert.equal(
    userInClearVerdict('bench', reply(Code.NotLoggedIn, 'Non-anonymous sessions must use encryption.'))[0],
    'pass',
  );
  assert.equal(
    userInClearVerdict('bench', reply(Code.NeedPassword, 'Please specify the password.'))[0],
    'fail',
  );
  assert.equal(userInClearVerdict('bench', reply(Code.LoggedIn, 'Welcome.'))[0], 'fail');
});

test('USER anonymous answered 331 in clear says nothing of real accounts: not applicable, not a failure', () => {
  // vsftpd with force_local_logins_ssl=YES and anonymous_enable=NO answers so, and refuses every real login in clear.
  for (const user of ['anonymous', 'FTP']) {
    const [verdict, why] = userInClearVerdict(user, reply(Code.NeedPassword, 'Please specify the password.'));
    assert.equal(verdict, 'not-applicable');
    assert.match(why ?? '', /ftp:\/\/USER@HOST\//);
  }
  assert.equal(userInClearVerdict('anonymous', reply(Code.NotLoggedIn, 'TLS required.'))[0], 'pass');
});
