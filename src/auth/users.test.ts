import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password.js';
import { Secret, type Credentials } from './types.js';
import { UserTable } from './users.js';

const signal = new AbortController().signal;

function creds(username: string, password: string): Credentials {
  return { username, password: new Secret(password), remoteAddress: '127.0.0.1', tls: true };
}

describe('UserTable', () => {
  it('authenticates a known user and yields the principal', async () => {
    const users = new UserTable([
      { username: 'alice', passwordHash: await hashPassword('pw-a'), home: '/srv/alice' },
      { username: 'bob', passwordHash: await hashPassword('pw-b'), home: '/srv/bob', readOnly: true },
    ]);
    assert.deepEqual(await users.authenticate(creds('alice', 'pw-a'), signal), {
      ok: true,
      principal: { username: 'alice', home: '/srv/alice', readOnly: false },
    });
    const bob = await users.authenticate(creds('bob', 'pw-b'), signal);
    assert.ok(bob.ok && bob.principal.readOnly);
  });

  it('refuses a wrong password and an unknown user alike (the defender alone is told which)', async () => {
    const users = await UserTable.fromPlain([{ username: 'alice', password: 'pw-a', home: '/srv/alice' }]);
    const wrong = await users.authenticate(creds('alice', 'nope'), signal);
    const unknown = await users.authenticate(creds('mallory', 'pw-a'), signal);
    const caseDiffers = await users.authenticate(creds('Alice', 'pw-a'), signal);
    assert.equal(wrong.ok, false);
    // The same reason; only the defender is told the name is unknown (it scores that higher).
    assert.deepEqual(unknown, { ...wrong, unknownUser: true });
    assert.deepEqual(caseDiffers, { ...wrong, unknownUser: true });
    assert.ok(!wrong.ok && wrong.unknownUser === undefined);
  });

  it('an unknown user costs the same scrypt work as a known one (timing reveals no names)', async () => {
    const checked: string[] = [];
    const users = await UserTable.fromPlain([{ username: 'alice', password: 'pw-a', home: '/srv/alice' }], {
      verify: (plain, encoded) => (checked.push(encoded), verifyPassword(plain, encoded)),
    });
    await users.authenticate(creds('alice', 'guess'), signal);
    await users.authenticate(creds('nobody', 'guess'), signal);
    assert.equal(checked.length, 2, 'both were checked with scrypt');
    assert.equal(checked[1], DUMMY_HASH);
    const params = (h: string | undefined): string => (h ?? '').split('$').slice(0, 4).join('$');
    assert.equal(params(checked[1]), params(checked[0]), 'same scrypt parameters');
  });

  it("hashCost (test suites): the hashes made, and an unknown user's check, cost that", async () => {
    const checked: string[] = [];
    const users = await UserTable.fromPlain([{ username: 'alice', password: 'pw-a', home: '/srv/alice' }], {
      hashCost: { N: 16, r: 1, p: 1 },
      verify: (plain, encoded) => (checked.push(encoded), verifyPassword(plain, encoded)),
    });
    assert.equal((await users.authenticate(creds('alice', 'pw-a'), signal)).ok, true);
    await users.authenticate(creds('nobody', 'guess'), signal);
    assert.deepEqual(
      checked.map((h) => h.split('$').slice(0, 4).join('$')),
      ['scrypt$16$1$1', 'scrypt$16$1$1'],
    );
  });

  it('validates entries at construction', async () => {
    const hash = await hashPassword('x');
    const bad = [
      { username: 'bad name', passwordHash: hash, home: '/h' },
      { username: '', passwordHash: hash, home: '/h' },
      { username: 'a'.repeat(65), passwordHash: hash, home: '/h' },
      { username: '..', passwordHash: hash, home: '/h' }, // a path's parent where a name becomes a path
      { username: '.', passwordHash: hash, home: '/h' },
      { username: 'ok', passwordHash: 'plaintext', home: '/h' },
      { username: 'ok', passwordHash: hash, home: 'relative/home' },
    ];
    for (const entry of bad) assert.throws(() => new UserTable([entry]), FerryError, JSON.stringify(entry));
    assert.throws(
      () =>
        new UserTable([
          { username: 'dup', passwordHash: hash, home: '/h' },
          { username: 'dup', passwordHash: hash, home: '/h' },
        ]),
      /twice/,
    );
    await assert.rejects(UserTable.fromPlain([{ username: 'a', password: '', home: '/h' }]), FerryError);
    const ok = new UserTable([{ username: 'A.b_c-1', passwordHash: hash, home: '/h' }]);
    assert.equal(ok.size, 1);
    assert.ok(ok.has('A.b_c-1'));
  });

  it('stops when aborted', async () => {
    const users = await UserTable.fromPlain([{ username: 'alice', password: 'pw-a', home: '/srv/alice' }]);
    await assert.rejects(users.authenticate(creds('alice', 'pw-a'), AbortSignal.abort()));
  });
});

describe('UserTable login cache', () => {
  it('a remembered login still refuses a wrong password', async () => {
    const t = await UserTable.fromPlain([{ username: 'ann', password: 'right', home: '/srv/ann' }]);
    assert.equal((await t.authenticate(creds('ann', 'right'), signal)).ok, true);
    assert.equal((await t.authenticate(creds('ann', 'right'), signal)).ok, true);
    assert.equal((await t.authenticate(creds('ann', 'wrong'), signal)).ok, false);
    assert.equal((await t.authenticate(creds('ann', 'right'), signal)).ok, true);
  });

  it('a login is remembered per user: another user with the same password is checked on its own', async () => {
    const t = await UserTable.fromPlain([
      { username: 'ann', password: 'same', home: '/srv/ann' },
      { username: 'bob', password: 'other', home: '/srv/bob' },
    ]);
    assert.equal((await t.authenticate(creds('ann', 'same'), signal)).ok, true);
    assert.equal((await t.authenticate(creds('bob', 'same'), signal)).ok, false);
  });

  it('after the cache time, and past the cache size, logins fall back to scrypt and still work', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const table = await UserTable.fromPlain(
      [
        { username: 'ann', password: 'a', home: '/srv/ann' },
        { username: 'bob', password: 'b', home: '/srv/bob' },
      ],
      { loginCacheMs: 1000, loginCacheSize: 1 },
    );
    assert.equal((await table.authenticate(creds('ann', 'a'), signal)).ok, true);
    t.mock.timers.tick(5000);
    assert.equal((await table.authenticate(creds('ann', 'a'), signal)).ok, true);
    assert.equal((await table.authenticate(creds('ann', 'x'), signal)).ok, false);
    assert.equal((await table.authenticate(creds('bob', 'b'), signal)).ok, true);
    assert.equal((await table.authenticate(creds('ann', 'a'), signal)).ok, true);
  });
});
