import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Account } from './account.js';
import { AccountAuthenticator } from './authenticator.js';
import { hashPassword } from './password.js';
import { Secret, type AccountGone, type Principal } from './types.js';
import {
  editUsersFile,
  parseUsersFile,
  readUsersFile,
  reparseUsersFile,
  UsersFileStore,
  writeUsersFile,
} from './users-file.js';

const signal = new AbortController().signal;
const creds = (username: string, password: string, remoteAddress = '127.0.0.1') => ({
  username,
  password: new Secret(password),
  remoteAddress,
  tls: true,
});

/** Resolves with the next value `subscribe` delivers (a bounded wait: no sleeping). */
function next<T>(subscribe: (deliver: (v: T) => void) => () => void, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
    const off = subscribe((v) => {
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

/** A logger that tells onError of its errors and onDebug of its debug lines. */
function watchedLogger(): Logger & {
  onError(cb: (msg: string) => void): () => void;
  onDebug(cb: (msg: string) => void): () => void;
  onInfo(cb: (msg: string) => void): () => void;
} {
  const errors = new Set<(msg: string) => void>();
  const debugs = new Set<(msg: string) => void>();
  const infos = new Set<(msg: string) => void>();
  const noop = (): void => {};
  const tell =
    (to: Set<(msg: string) => void>) =>
    (obj: object, msg = '') =>
      to.forEach((l) => l(`${msg} ${JSON.stringify(obj)}`));
  const logger = {
    debug: tell(debugs),
    info: tell(infos),
    warn: noop,
    error: tell(errors),
    child: () => logger,
    onError: (cb: (msg: string) => void) => (errors.add(cb), () => errors.delete(cb)),
    onDebug: (cb: (msg: string) => void) => (debugs.add(cb), () => debugs.delete(cb)),
    onInfo: (cb: (msg: string) => void) => (infos.add(cb), () => infos.delete(cb)),
  };
  return logger;
}

describe('users file', () => {
  let dir: string;
  let file: string;
  let hash1: string;
  let hash2: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-users-'));
    file = path.join(dir, 'users.yaml');
    [hash1, hash2] = await Promise.all([hashPassword('pw-1'), hashPassword('pw-2')]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const ann = (): Account => ({ username: 'ann', passwordHash: hash1, home: '/srv/ann' });

  it('is written atomically: a new file (mode 0600) renamed over the old, no temp file left', async () => {
    await writeUsersFile(file, [ann()]);
    const first = await stat(file);
    assert.equal(first.mode & 0o777, 0o600);
    await writeUsersFile(file, [
      ann(),
      { username: 'bob', passwordHash: hash2, home: '/srv/bob', maxSessions: 2 },
    ]);
    const second = await stat(file);
    assert.notEqual(second.ino, first.ino, 'replaced by rename, not rewritten in place');
    assert.equal(second.mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['users.yaml']);
    const text = await readFile(file, 'utf8');
    assert.match(text, /^# Ferry users file/);
    assert.ok(!text.includes('pw-'), 'no plain password');
    const back = await readUsersFile(file);
    assert.deepEqual(back.get('bob'), {
      username: 'bob',
      passwordHash: hash2,
      home: '/srv/bob',
      maxSessions: 2,
    });
  });

  it('reads what people write: units, relative homes, and refuses bad entries naming the account and key', async () => {
    const f = path.join(dir, 'hand.yaml');
    await writeFile(
      f,
      `users:\n  - name: c\n    passwordHash: "${hash1}"\n    home: homes/c\n    quotaSize: 2G\n    uploadRate: 1MB/s\n    permissions: { /: list, /in: "list,upload" }\n    expires: 2030-01-01\n`,
    );
    const c = (await readUsersFile(f)).get('c');
    assert.equal(c?.home, path.join(dir, 'homes/c'));
    assert.equal(c?.quotaSize, 2 * 1024 ** 3);
    assert.equal(c?.uploadRate, 1024 ** 2);
    assert.deepEqual(c?.permissions, { '/': ['list'], '/in': ['list', 'upload'] });
    assert.equal(c?.expires, '2030-01-02T00:00:00.000Z'); // usable through 2030-01-01 (UTC)
    await writeFile(
      f,
      `users:\n  - name: c\n    passwordHash: "${hash1}"\n    home: /h\n    permissions: { /: write }\n`,
    );
    await assert.rejects(
      readUsersFile(f),
      /hand\.yaml: users\.0 \(c\)\.permissions.*unknown permission "write"/,
    );
    await writeFile(f, `users:\n  - name: c\n    passwordHash: plain\n    home: /h\n`);
    await assert.rejects(readUsersFile(f), /users\.0 \(c\)\.passwordHash/);
    // A size where a rate was meant: what the size form expects, not zod's bare "Invalid input".
    await writeFile(
      f,
      `users:\n  - name: c\n    passwordHash: "${hash1}"\n    home: /h\n    quotaSize: 10MB/s\n`,
    );
    await assert.rejects(readUsersFile(f), /users\.0 \(c\)\.quotaSize: expected a size such as 500M/);
    assert.equal((await readUsersFile(path.join(dir, 'absent.yaml'))).size, 0);
  });

  it('a reload names the accounts it added, removed and modified (an audit trail of hand edits)', async () => {
    await writeUsersFile(file, [ann(), { username: 'bob', passwordHash: hash1, home: '/srv/bob' }]);
    const logger = watchedLogger();
    const store = await UsersFileStore.open(file, { logger });
    try {
      const logged = next<string>((cb) => logger.onInfo(cb), 'the reload line');
      await editUsersFile(file, (m) => {
        m.set('cat', { username: 'cat', passwordHash: hash2, home: '/srv/cat' });
        m.delete('bob');
        m.set('ann', { ...ann(), home: '/srv/ann2' });
      });
      const line = await logged;
      assert.match(line, /^users file reloaded /);
      const fields = JSON.parse(line.slice('users file reloaded '.length)) as Record<string, unknown>;
      assert.deepEqual(
        { changed: fields.changed, added: fields.added, removed: fields.removed, modified: fields.modified },
        { changed: 3, added: ['cat'], removed: ['bob'], modified: ['ann'] },
      );
      // A bulk import: counted, the first names listed.
      const bulk = next<string>((cb) => logger.onInfo(cb), 'the bulk reload line');
      await editUsersFile(file, (m) => {
        for (let i = 0; i < 25; i++) m.set(`u${i}`, { username: `u${i}`, passwordHash: hash1, home: '/h' });
      });
      const added = (JSON.parse((await bulk).slice('users file reloaded '.length)) as { added: string[] })
        .added;
      assert.equal(added.length, 21);
      assert.equal(added[20], '…and 5 more');
    } finally {
      store.close();
    }
  });

  it('a running store sees changes without a restart; a bad file keeps the last good table', async () => {
    await writeUsersFile(file, [ann()]);
    const logger = watchedLogger();
    const store = await UsersFileStore.open(file, { logger });
    try {
      assert.equal((await store.lookup('ann'))?.home, '/srv/ann');
      const changed = next<readonly string[]>((cb) => store.onChange(cb), 'a change');
      await editUsersFile(
        file,
        (m) => void m.set('cat', { username: 'cat', passwordHash: hash2, home: '/srv/cat' }),
      );
      assert.deepEqual(await changed, ['cat']);
      assert.equal((await store.lookup('cat'))?.home, '/srv/cat');

      const logged = next<string>((cb) => logger.onError(cb), 'an error log');
      await writeFile(file, 'users: [ {name: broken');
      assert.match(await logged, /users file not reloaded/);
      assert.equal((await store.lookup('cat'))?.home, '/srv/cat', 'last good table kept');

      const fixed = next<readonly string[]>((cb) => store.onChange(cb), 'a change after the fix');
      await writeUsersFile(file, [ann()]);
      assert.deepEqual(await fixed, ['cat']);
      assert.equal(await store.lookup('cat'), undefined);
    } finally {
      store.close();
    }
  });

  it('a blank file (an in-place rewrite caught half way) keeps the table; `users: []` empties it', async () => {
    await writeUsersFile(file, [ann()]);
    const store = await UsersFileStore.open(file);
    try {
      await writeFile(file, '\n');
      await store.changed();
      assert.equal((await store.lookup('ann'))?.home, '/srv/ann', 'a blank file is not "no users"');
      await writeFile(file, 'users: []\n');
      await store.changed();
      assert.equal(await store.lookup('ann'), undefined);
    } finally {
      store.close();
    }
  });

  it('a file that is gone (moved away for a moment) keeps the table, with a warning; back, nothing changed', async () => {
    await writeUsersFile(file, [ann()]);
    const warnings: string[] = [];
    const logger = { ...watchedLogger(), warn: (_obj: object, msg = '') => void warnings.push(msg) };
    const store = await UsersFileStore.open(file, { logger });
    const changes: (readonly string[])[] = [];
    store.onChange((names) => changes.push(names));
    try {
      await rename(file, `${file}.away`);
      await store.changed();
      assert.equal((await store.lookup('ann'))?.home, '/srv/ann', 'a missing file is not "no users"');
      assert.ok(
        warnings.some((w) => /users file is missing: keeping the last good one/.test(w)),
        warnings.join(),
      );
      await rename(`${file}.away`, file);
      await store.changed();
      assert.equal((await store.lookup('ann'))?.home, '/srv/ann');
      assert.deepEqual(changes, []);
    } finally {
      store.close();
    }
  });

  it('a file rewritten in place is read once it stops changing, never half-written', async () => {
    const entry = (n: number): string =>
      `  - name: u${n}\n    passwordHash: "${hash1}"\n    home: /srv/u${n}\n`;
    const whole = `users:\n${[0, 1, 2, 3].map(entry).join('')}`;
    await writeFile(file, whole);
    const logger = watchedLogger();
    // Long enough that the second piece always lands within it.
    const store = await UsersFileStore.open(file, { logger, quietMs: 500 });
    const told: string[] = [];
    store.onChange((names) => told.push(...names));
    try {
      // The store notices the first piece: it waits (fixed) or applies it (the defect).
      const noticed = next<string>((cb) => {
        const offDebug = logger.onDebug(cb);
        const offChange = store.onChange(() => cb('applied'));
        return () => (offDebug(), offChange());
      }, 'the store noticing the first piece');
      // As `gen.sh > users.yaml` does: truncate the same inode, write it in pieces.
      const fh = await open(file, 'r+');
      await fh.truncate(0);
      const cut = whole.indexOf('  - name: u2');
      await fh.write(whole.slice(0, cut), 0);
      await noticed;
      await fh.write(whole.slice(cut), cut);
      await fh.close();
      await store.changed();
      assert.deepEqual(told, [], 'no account was removed, even for a moment');
      assert.equal(store.size, 4);
      assert.equal((await store.lookup('u3'))?.home, '/srv/u3');
    } finally {
      store.close();
    }
  });

  it('close() ends the wait for a file being written', async () => {
    await writeUsersFile(file, [ann()]);
    const logger = watchedLogger();
    const store = await UsersFileStore.open(file, { logger, quietMs: 60_000 });
    const waiting = next<string>((cb) => logger.onDebug(cb), 'the store waiting');
    await writeFile(file, 'users: []\n');
    const reload = store.changed();
    await waiting;
    store.close();
    await reload; // within the test's time only if close() ended the minute-long wait
    assert.equal((await store.lookup('ann'))?.home, '/srv/ann');
  });

  it('a reload parses only the entries that changed, and reads the file as a whole parse does', async () => {
    const three = (bobHome: string): Account[] => [
      ann(),
      { username: 'bob', passwordHash: hash2, home: bobHome, allowFrom: ['10.0.0.0/8'] },
      { username: 'cat', passwordHash: hash2, home: '/srv/cat', permissions: { '/': ['list'] } },
    ];
    await writeUsersFile(file, three('/srv/bob'));
    const first = reparseUsersFile(await readFile(file, 'utf8'), file, new Map());
    assert.deepEqual(first.accounts, await readUsersFile(file));
    await writeUsersFile(file, three('/srv/bob2'));
    const text = await readFile(file, 'utf8');
    const again = reparseUsersFile(text, file, first.entries);
    assert.deepEqual(again.accounts, parseUsersFile(text, file));
    assert.equal(again.accounts.get('ann'), first.accounts.get('ann'), 'unchanged: the same object');
    assert.equal(again.accounts.get('cat'), first.accounts.get('cat'), 'the last one too');
    assert.equal(again.accounts.get('bob')?.home, '/srv/bob2');

    // A changed entry that does not validate, or one listed twice: the whole parse's error.
    for (const bad of [
      text.replace('home: /srv/bob2', 'home: /srv/bob2\n    maxSessions: -1'),
      text.replace('  - name: bob', '  - name: cat'),
      text + text.slice(text.indexOf('  - name: bob')),
    ]) {
      const whole = (() => {
        try {
          parseUsersFile(bad, file);
        } catch (err) {
          return (err as Error).message;
        }
        return 'parsed';
      })();
      assert.match(whole, /users\.[12] \(\w+\)\.|listed twice/);
      assert.throws(() => reparseUsersFile(bad, file, again.entries), { message: whole });
    }
  });

  it('a file that is not valid YAML is refused naming the line and column, never quoting a hash', async () => {
    const f = path.join(dir, 'dup.yaml');
    // A hand edit that repeats a key, right under a password hash.
    await writeFile(
      f,
      `users:\n  - name: c\n    passwordHash: "${hash1}"\n    passwordHash: "${hash2}"\n    home: /h\n`,
    );
    const err = await readUsersFile(f).then(
      () => assert.fail('read a file with a duplicate key'),
      (e: unknown) => e as FerryError,
    );
    assert.equal(err.message, `${f}: not valid YAML at line 4, column 5: duplicate key`);
    for (const secret of [hash1, hash2, hash1.split('$')[4] ?? '?', 'passwordHash']) {
      assert.ok(!err.message.includes(secret), `quotes ${secret}`);
    }
  });

  it('a file that does not parse at start is refused', async () => {
    const f = path.join(dir, 'bad.yaml');
    await writeFile(f, 'users: 3');
    await assert.rejects(UsersFileStore.open(f), FerryError);
  });

  it('logins: cache forgotten on a password change; disabled, expired and allowFrom refused with the reason', async () => {
    await writeUsersFile(file, [ann()]);
    const store = await UsersFileStore.open(file);
    const auth = new AccountAuthenticator([store]);
    const events: [string, Principal | undefined, AccountGone | undefined][] = [];
    const unwatch = auth.watch((name, p, gone) => events.push([name, p, gone]));
    const edit = async (change: (a: Account) => void): Promise<void> => {
      const seen = next<readonly string[]>((cb) => store.onChange(cb), 'a change');
      await editUsersFile(file, (m) => change(m.get('ann') as Account));
      await seen;
    };
    try {
      assert.equal((await auth.authenticate(creds('ann', 'pw-1'), signal)).ok, true);
      assert.equal((await auth.authenticate(creds('ann', 'pw-1'), signal)).ok, true); // remembered
      await edit((a) => (a.passwordHash = hash2));
      assert.equal(
        (await auth.authenticate(creds('ann', 'pw-1'), signal)).ok,
        false,
        'old password forgotten',
      );
      assert.equal((await auth.authenticate(creds('ann', 'pw-2'), signal)).ok, true);

      const wrong = await auth.authenticate(creds('ann', 'nope'), signal);
      assert.deepEqual(await auth.authenticate(creds('nobody', 'pw-2'), signal), {
        ...wrong,
        unknownUser: true,
      });

      await edit((a) => (a.allowFrom = ['10.0.0.0/8']));
      assert.deepEqual(await auth.authenticate(creds('ann', 'pw-2'), signal), {
        ok: false,
        reason: 'address 127.0.0.1 not in allowFrom',
      });
      assert.equal((await auth.authenticate(creds('ann', 'pw-2', '10.9.8.7'), signal)).ok, true);
      await edit((a) => (a.expires = '2001-01-01T00:00:00.000Z'));
      const expired = await auth.authenticate(creds('ann', 'pw-2', '10.1.1.1'), signal);
      assert.deepEqual(expired, { ok: false, reason: 'account expired (2001-01-01T00:00:00.000Z)' });
      await edit((a) => {
        a.expires = undefined;
        a.disabled = true;
      });
      assert.deepEqual(await auth.authenticate(creds('ann', 'pw-2', '10.1.1.1'), signal), {
        ok: false,
        reason: 'account disabled',
      });
      // A wrong password on a disabled account says only that the password was wrong.
      assert.deepEqual(await auth.authenticate(creds('ann', 'bad', '10.1.1.1'), signal), wrong);

      // An expiry applies at the next login: running sessions are ended only when disabled.
      const usable = events.map(([n, p]) => [n, p !== undefined]);
      assert.deepEqual(usable, [
        ['ann', true],
        ['ann', true],
        ['ann', true],
        ['ann', false],
      ]);
      // Said why, for the session's log and its transfer's 426.
      assert.equal(events.at(-1)?.[2], 'disabled');
    } finally {
      unwatch();
      store.close();
    }
  });
});
