import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anonymousAccount } from './anonymous.js';
import { hashPassword } from './password.js';
import { Secret, type Credentials } from './types.js';
import { UserTable } from './users.js';

const signal = new AbortController().signal;

function creds(username: string, password: string, remoteAddress = '127.0.0.1'): Credentials {
  return { username, password: new Secret(password), remoteAddress, tls: true };
}

describe('anonymous FTP in a UserTable', () => {
  it('anonymous and ftp, in any case, log in with any password (an empty one too)', async () => {
    const users = new UserTable([anonymousAccount({ home: '/srv/pub', readOnly: true })]);
    for (const [name, password] of [
      ['anonymous', 'ftp@example.com'],
      ['ftp', 'anonymous@'],
      ['Anonymous', ''],
      ['FTP', 'a real password typed by mistake'],
    ] as const) {
      assert.deepEqual(await users.authenticate(creds(name, password), signal), {
        ok: true,
        principal: { username: 'anonymous', home: '/srv/pub', readOnly: true, anonymous: true },
      });
    }
  });

  it('without an anonymous account, anonymous and ftp are unknown users (no hint the names are special)', async () => {
    const users = await UserTable.fromPlain([{ username: 'alice', password: 'pw', home: '/srv/a' }]);
    const unknown = await users.authenticate(creds('mallory', 'x'), signal);
    for (const name of ['anonymous', 'ftp'])
      assert.deepEqual(await users.authenticate(creds(name, 'x'), signal), unknown);
  });

  it('disabled is off: the names are unknown again', async () => {
    const users = new UserTable([anonymousAccount({ home: '/srv/pub', disabled: true })]);
    const outcome = await users.authenticate(creds('anonymous', 'x'), signal);
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.unknownUser);
  });

  it('a refusal (allowFrom) is marked anonymous, so the defender does not score it', async () => {
    const users = new UserTable([anonymousAccount({ home: '/srv/pub', allowFrom: ['10.0.0.0/8'] })]);
    const outcome = await users.authenticate(creds('ftp', 'x', '192.0.2.1'), signal);
    assert.deepEqual(outcome, { ok: false, reason: 'address 192.0.2.1 not in allowFrom', anonymous: true });
    assert.ok((await users.authenticate(creds('ftp', 'x', '10.1.2.3'), signal)).ok);
  });

  it('the exact names of ordinary users are untouched', async () => {
    const users = new UserTable([
      anonymousAccount({ home: '/srv/pub' }),
      { username: 'alice', passwordHash: await hashPassword('pw'), home: '/srv/a' },
    ]);
    assert.ok((await users.authenticate(creds('alice', 'pw'), signal)).ok);
    assert.equal((await users.authenticate(creds('alice', 'x'), signal)).ok, false);
  });
});
