import assert from 'node:assert/strict';
import { test } from 'node:test';
import { userFlagLogin, type PasswordSources } from './serve-user-flag.js';

const sources = (env: Record<string, string>, tty: boolean, typed = ''): PasswordSources => ({
  env,
  tty,
  prompt: (q) => {
    assert.equal(q, 'Password for alice: ');
    return Promise.resolve(typed);
  },
});

test('--user NAME:PASSWORD as before; NAME alone: FERRY_PASSWORD first, else typed on a terminal', async () => {
  const none = sources({}, false);
  assert.deepEqual(await userFlagLogin('alice:a:b', none), { username: 'alice', password: 'a:b' });
  const env = sources({ FERRY_PASSWORD: 'from-env' }, true, 'typed');
  assert.deepEqual(await userFlagLogin('alice', env), { username: 'alice', password: 'from-env' });
  assert.deepEqual(await userFlagLogin('alice', sources({}, true, 'typed')), {
    username: 'alice',
    password: 'typed',
  });
  await assert.rejects(userFlagLogin('alice', sources({}, true, '')), /--user alice: empty password/);
  await assert.rejects(userFlagLogin('alice', none), /set FERRY_PASSWORD, or start on a terminal/);
  await assert.rejects(userFlagLogin(':pw', none), /--user: expected NAME/);
});
