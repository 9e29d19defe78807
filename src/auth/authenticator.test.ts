import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryError } from '../errors.js';
import type { Account, AccountStore } from './account.js';
import { AccountAuthenticator } from './authenticator.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password.js';
import { Secret } from './types.js';

/** A store that can be switched off, like a database that went away. */
class SwitchableStore implements AccountStore {
  up = true;
  constructor(private readonly accounts: Map<string, Account>) {}
  async lookup(username: string): Promise<Account | undefined> {
    if (!this.up) throw new FerryError('ERR_TRANSIENT', 'database unavailable: connection refused');
    return this.accounts.get(username);
  }
  onChange(): () => void {
    return () => {};
  }
}

const creds = (username: string, password: string) => ({
  username,
  password: new Secret(password),
  remoteAddress: '192.0.2.1',
  tls: true,
});

test('store away: only a login verified recently, with the same password; another password is a scored guess; all else unavailable (421)', async () => {
  const home = '/srv/x';
  const store = new SwitchableStore(
    new Map([
      ['ann', { username: 'ann', passwordHash: await hashPassword('pw'), home }],
      ['bob', { username: 'bob', passwordHash: await hashPassword('pw'), home }],
    ]),
  );
  const auth = new AccountAuthenticator([store], { offlineLoginMs: 60_000 });
  const signal = new AbortController().signal;
  assert.equal((await auth.authenticate(creds('ann', 'pw'), signal)).ok, true);
  store.up = false;
  assert.equal((await auth.authenticate(creds('ann', 'pw'), signal)).ok, true, 'verified before: served');
  const wrong = await auth.authenticate(creds('ann', 'other'), signal);
  // The same 421 as for a name not cached, but a guess the defender scores: else guesses would be free.
  assert.equal(!wrong.ok && wrong.unavailable && wrong.guess, true, 'another password is a scored guess');
  const never = await auth.authenticate(creds('bob', 'pw'), signal);
  assert.equal(never.ok === false && never.unavailable, true, 'never verified here');
  assert.equal(!never.ok && never.guess, undefined, 'a name not cached is no guess');

  const strict = new AccountAuthenticator([store], { offlineLoginMs: 0 });
  store.up = true;
  assert.equal((await strict.authenticate(creds('ann', 'pw'), signal)).ok, true);
  store.up = false;
  const refused = await strict.authenticate(creds('ann', 'pw'), signal);
  assert.equal(refused.ok === false && refused.unavailable, true, 'offlineLoginMs 0: no offline logins');
});

test("a migrated hash is checked beside the dummy scrypt: its answer takes no less than an unknown user's", async () => {
  const md5crypt = '$1$abcdefgh$fXRNqNoBfI.lkg9wkvzNq/'; // openssl passwd -1 -salt abcdefgh old
  const store = new SwitchableStore(
    new Map([['old', { username: 'old', passwordHash: md5crypt, home: '/srv/x' }]]),
  );
  const checked: string[] = [];
  const auth = new AccountAuthenticator([store], {
    verify: (plain, encoded, signal) => (checked.push(encoded), verifyPassword(plain, encoded, signal)),
  });
  const signal = new AbortController().signal;
  assert.equal((await auth.authenticate(creds('old', 'wrong'), signal)).ok, false);
  assert.deepEqual(checked.toSorted(), [DUMMY_HASH, md5crypt].toSorted());
  checked.length = 0;
  assert.equal(
    (await auth.authenticate(creds('old', 'old'), signal)).ok,
    true,
    'the right password still logs in',
  );
  assert.deepEqual(checked.toSorted(), [DUMMY_HASH, md5crypt].toSorted());
  await auth.upgrades();
});
