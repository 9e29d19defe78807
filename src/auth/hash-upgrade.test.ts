import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../logger.js';
import { StaticAccounts } from './account.js';
import { AccountAuthenticator } from './authenticator.js';
import { isLegacyHash, verifyPassword } from './password.js';
import { Secret } from './types.js';
import { readUsersFile, UsersFileStore, writeUsersFile } from './users-file.js';

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
    const auth = new AccountAuthenticator([store], { logger, loginCacheMs: 0 });
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

  it("in the configuration: not rewritten, a one-time suggestion to use 'ferry hash-password'", async () => {
    const logger = infoLogger();
    const config = new StaticAccounts([{ username: 'bob', passwordHash: APR1, home: dir }]);
    const auth = new AccountAuthenticator([config], { logger, loginCacheMs: 0 });
    for (let i = 0; i < 2; i++) assert.equal((await auth.authenticate(creds('bob', PW), signal)).ok, true);
    assert.ok(isLegacyHash((await config.lookup('bob'))?.passwordHash ?? ''));
    const advice = logger.lines.filter((l) => l.includes('ferry hash-password'));
    assert.equal(advice.length, 1);
    assert.ok(!advice[0]?.includes('s4ltS4lt'));
  });

  it('the login cache spares a crypt check as it does a scrypt one (never for a wrong password)', async () => {
    let checks = 0;
    const verify = (plain: string, encoded: string, signal?: AbortSignal): Promise<boolean> => {
      checks++;
      return verifyPassword(plain, encoded, signal);
    };
    const config = new StaticAccounts([{ username: 'cy', passwordHash: APR1, home: dir }]);
    const auth = new AccountAuthenticator([config], { verify });
    for (let i = 0; i < 3; i++) assert.equal((await auth.authenticate(creds('cy', PW), signal)).ok, true);
    assert.equal(checks, 1);
    assert.equal((await auth.authenticate(creds('cy', 'wrong'), signal)).ok, false);
    assert.equal(checks, 2);
  });
});
