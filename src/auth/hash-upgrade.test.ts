import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../logger.js';
import { StaticAccounts, type AccountStore } from './account.js';
import { AccountAuthenticator } from './authenticator.js';
import { hashPassword, isLegacyHash, verifyPassword } from './password.js';
import { Secret } from './types.js';
import { readUsersFile, UsersFileDirectory, UsersFileStore, writeUsersFile } from './users-file.js';

/** The upgrades' scrypt at its least cost: no test here is about the cost (password.test is). */
const CHEAP = { N: 16, r: 1, p: 1 };

const signal = new AbortController().signal;
const creds = (username: string, password: string) => ({
  username,
  password: new Secret(password),
  remoteAddress: '127.0.0.1',
  tls: true,
});

/** `openssl passwd -apr1 -salt s4ltS4lt 'pässwörd 123!'` (htpasswd's default on Debian). */
const APR1 = '$apr1$s4ltS4lt$ORd5hldQ2Ods3tAgluJXL1';
const PW = 'pässwörd 123!';

/** A logger keeping its info lines; `when(text)` resolves at the first line containing text. */
function infoLogger(): Logger & { lines: string[]; when(text: string): Promise<void> } {
  const lines: string[] = [];
  const waiters: { text: string; resolve(): void }[] = [];
  const noop = (): void => {};
  const logger = {
    lines,
    debug: noop,
    warn: (obj: object, msg = '') => lines.push(`WARN ${msg} ${JSON.stringify(obj)}`),
    error: noop,
    info: (obj: object, msg = '') => {
      const line = `${msg} ${JSON.stringify(obj)}`;
      lines.push(line);
      for (const w of waiters.filter((w) => line.includes(w.text))) w.resolve();
    },
    child: () => logger,
    when: (text: string) =>
      lines.some((l) => l.includes(text))
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ text, resolve })),
  };
  return logger;
}

describe('a migrated hash is replaced at login', { timeout: 30_000 }, () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-upgrade-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('in the users file: by a scrypt hash of the same password, logged once without the hash', async () => {
    const file = path.join(dir, 'users.yaml');
    await writeUsersFile(file, [{ username: 'ann', passwordHash: APR1, home: dir }]);
    const store = await UsersFileStore.open(file);
    const logger = infoLogger();
    const auth = new AccountAuthenticator([store], { hashCost: CHEAP, logger, loginCacheMs: 0 });
    try {
      assert.equal((await auth.authenticate(creds('ann', 'wrong'), signal)).ok, false);
      assert.equal(
        (await readUsersFile(file)).get('ann')?.passwordHash,
        APR1,
        'a wrong password changes nothing',
      );
      assert.equal((await auth.authenticate(creds('ann', PW), signal)).ok, true);
      await logger.when('migrated password hash replaced');
      const upgraded = (await readUsersFile(file)).get('ann')?.passwordHash ?? '';
      assert.match(upgraded, /^scrypt\$/);
      assert.equal(await verifyPassword(PW, upgraded), true);
      // The store follows the file: the next login checks the new hash.
      assert.equal((await store.lookup('ann'))?.passwordHash, upgraded);
      assert.equal((await auth.authenticate(creds('ann', PW), signal)).ok, true);
      assert.equal(logger.lines.filter((l) => l.includes('replaced')).length, 1);
      assert.ok(!logger.lines.join('\n').includes('s4ltS4lt'), 'no hash in the log');
    } finally {
      store.close();
    }
  });

  it("the upgrade is no change for the user's sessions; a change of the account after it is", async () => {
    const file = path.join(dir, 'sessions.yaml');
    await writeUsersFile(file, [{ username: 'sam', passwordHash: APR1, home: dir }]);
    const store = await UsersFileStore.open(file);
    const logger = infoLogger();
    const auth = new AccountAuthenticator([store], { hashCost: CHEAP, logger, loginCacheMs: 0 });
    const told: [string, boolean | undefined][] = [];
    let onTold = (): void => {};
    const stop = auth.watch((name, p) => (told.push([name, p?.readOnly]), onTold()));
    try {
      assert.equal((await auth.authenticate(creds('sam', PW), signal)).ok, true);
      await auth.upgrades();
      const upgraded = (await readUsersFile(file)).get('sam')?.passwordHash ?? '';
      assert.match(upgraded, /^scrypt\$/);
      // A real change after it, told once looked up: the upgrade's lookup, started first, is done.
      const toldAgain = new Promise<void>((resolve) => (onTold = resolve));
      await new UsersFileDirectory(file).update('sam', (a) => void (a.readOnly = true));
      await store.changed();
      await toldAgain;
      assert.deepEqual(told, [['sam', true]], 'only the real change is told');
    } finally {
      stop();
      store.close();
    }
  });

  /** `store` whose replaceHash calls are counted, with `before` run ahead of each. */
  function counted(store: UsersFileStore, before: () => Promise<void> = async () => {}) {
    const calls: string[] = [];
    const wrapped: AccountStore = {
      lookup: (name) => store.lookup(name),
      onChange: (listener) => store.onChange(listener),
      replaceHash: async (name, from, to) => {
        calls.push(name);
        await before();
        return store.replaceHash(name, from, to);
      },
    };
    return { wrapped, calls };
  }

  it('parallel logins of one user: one upgrade, hashed and written once', async () => {
    const file = path.join(dir, 'parallel.yaml');
    await writeUsersFile(file, [{ username: 'pat', passwordHash: APR1, home: dir }]);
    const store = await UsersFileStore.open(file);
    const { wrapped, calls } = counted(store);
    const auth = new AccountAuthenticator([wrapped], { hashCost: CHEAP, loginCacheMs: 0 });
    try {
      const logins = await Promise.all([1, 2, 3, 4].map(() => auth.authenticate(creds('pat', PW), signal)));
      assert.ok(logins.every((l) => l.ok));
      await auth.upgrades();
      assert.deepEqual(calls, ['pat'], 'one upgrade');
      assert.match((await readUsersFile(file)).get('pat')?.passwordHash ?? '', /^scrypt\$/);
    } finally {
      store.close();
    }
  });

  it('a hash changed since the login (an admin set a password): not replaced, the file not written', async () => {
    const file = path.join(dir, 'admin.yaml');
    await writeUsersFile(file, [{ username: 'ada', passwordHash: APR1, home: dir }]);
    const store = await UsersFileStore.open(file);
    const logger = infoLogger();
    const set = await hashPassword('set by the admin');
    let written = '';
    const signature = async (): Promise<string> => {
      const st = await stat(file, { bigint: true });
      return `${st.ino}:${st.mtimeNs}`;
    };
    // Between the login's check and its upgrade: `ferry users passwd` (the same locked edit).
    const { wrapped, calls } = counted(store, async () => {
      await new UsersFileDirectory(file).update('ada', (a) => void (a.passwordHash = set));
      written = await signature();
    });
    const auth = new AccountAuthenticator([wrapped], { hashCost: CHEAP, logger, loginCacheMs: 0 });
    try {
      assert.equal((await auth.authenticate(creds('ada', PW), signal)).ok, true);
      await auth.upgrades();
      assert.equal(calls.length, 1);
      assert.equal((await readUsersFile(file)).get('ada')?.passwordHash, set, "the admin's hash stays");
      assert.equal(await signature(), written, 'the file not written again');
      assert.ok(!logger.lines.some((l) => l.includes('replaced')));
    } finally {
      store.close();
    }
  });

  it('a burst of first logins of many users: one rewrite of the file for all their upgrades', async () => {
    const file = path.join(dir, 'burst.yaml');
    const names = Array.from({ length: 20 }, (_, i) => `u${i}`);
    await writeUsersFile(
      file,
      names.map((username) => ({ username, passwordHash: APR1, home: dir })),
    );
    const logger = infoLogger();
    const store = await UsersFileStore.open(file, { logger });
    // The upgrades reach the store together (as logins of a burst do while the lock is busy).
    let arrived = (): void => {};
    const all = new Promise<void>((resolve) => (arrived = resolve));
    const { wrapped, calls } = counted(store, async () => {
      if (calls.length === names.length) arrived();
      await all;
    });
    const auth = new AccountAuthenticator([wrapped], { hashCost: CHEAP, loginCacheMs: 0 });
    try {
      const logins = await Promise.all(names.map((n) => auth.authenticate(creds(n, PW), signal)));
      assert.ok(logins.every((l) => l.ok));
      await auth.upgrades();
      const table = await readUsersFile(file);
      assert.ok(
        names.every((n) => table.get(n)?.passwordHash.startsWith('scrypt$')),
        'all upgraded',
      );
      const reloads = logger.lines.filter((l) => l.startsWith('users file reloaded'));
      assert.equal(reloads.length, 1, `one rewrite, not one per user: ${reloads.join('; ')}`);
      // Upgrades change no account (the same passwords): no session anywhere is told of them.
      assert.match(reloads[0] ?? '', /"changed":0/);
    } finally {
      store.close();
    }
  });

  it('an upgrade that could not be written is tried again later, not at every login', async () => {
    const file = path.join(dir, 'failing.yaml');
    await writeUsersFile(file, [{ username: 'fay', passwordHash: APR1, home: dir }]);
    const store = await UsersFileStore.open(file);
    const logger = infoLogger();
    const { wrapped, calls } = counted(store, async () => {
      throw new Error('EROFS: read-only file system');
    });
    const auth = new AccountAuthenticator([wrapped], { hashCost: CHEAP, logger, loginCacheMs: 0 });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await auth.authenticate(creds('fay', PW), signal)).ok, true);
        await auth.upgrades();
      }
      assert.equal(calls.length, 1, 'one try');
      assert.equal(
        logger.lines.filter((l) => l.includes('WARN migrated password hash not replaced')).length,
        1,
      );
    } finally {
      store.close();
    }
  });

  it("in the configuration: not rewritten, a one-time suggestion to use 'ferry hash-password'", async () => {
    const logger = infoLogger();
    const config = new StaticAccounts([{ username: 'bob', passwordHash: APR1, home: dir }]);
    const auth = new AccountAuthenticator([config], { hashCost: CHEAP, logger, loginCacheMs: 0 });
    for (let i = 0; i < 2; i++) assert.equal((await auth.authenticate(creds('bob', PW), signal)).ok, true);
    assert.ok(isLegacyHash((await config.lookup('bob'))?.passwordHash ?? ''));
    const advice = logger.lines.filter((l) => l.includes('ferry hash-password'));
    assert.equal(advice.length, 1);
    assert.ok(!advice[0]?.includes('s4ltS4lt'));
  });

  it('the login cache spares a crypt check as it does a scrypt one (never for a wrong password)', async () => {
    let checks = 0;
    const verify = (plain: string, encoded: string, signal?: AbortSignal): Promise<boolean> => {
      if (encoded === APR1) checks++; // not the dummy scrypt checked beside it
      return verifyPassword(plain, encoded, signal);
    };
    const config = new StaticAccounts([{ username: 'cy', passwordHash: APR1, home: dir }]);
    const auth = new AccountAuthenticator([config], { hashCost: CHEAP, verify });
    for (let i = 0; i < 3; i++) assert.equal((await auth.authenticate(creds('cy', PW), signal)).ok, true);
    assert.equal(checks, 1);
    assert.equal((await auth.authenticate(creds('cy', 'wrong'), signal)).ok, false);
    assert.equal(checks, 2);
  });
});
