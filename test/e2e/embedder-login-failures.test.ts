/**
 * An embedder's authenticator or storageFor that fails at login is "accounts unavailable" (421, as
 * an authenticator's `{ ok: false, unavailable: true }`), its cause logged with the user; a home its
 * storage's checkRoot refuses is 530 `Home directory unavailable.` RFC 959 gives PASS no 451, which
 * each of these got (`command failed`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthOutcome, Authenticator, Credentials, Principal } from '../../src/auth/types.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageBackend } from '../../src/storage/types.js';
import { connectSecure, MODES, textOf, useFerry, waitForLog, withClients } from './harness.js';

/** Fails as its user's name says; logs in anyone else, their home named as they are. */
const authenticator: Authenticator = {
  authenticate(c: Credentials): Promise<AuthOutcome> {
    switch (c.username) {
      case 'syncthrow': // not async: throws before any Promise
        throw new Error('sync throw in authenticate');
      case 'rejecterror':
        return Promise.reject(new Error('directory down'));
      case 'rejectstring':
        return Promise.reject('directory down');
      case 'rejectundefined':
        return Promise.reject(undefined);
      case 'rejectnull':
        return Promise.reject(null);
      default:
        return Promise.resolve({
          ok: true,
          principal: { username: c.username, home: c.username, readOnly: false },
        });
    }
  },
};

/** A storage whose checkRoot rejects with `why`. */
function rootRejecting(why: unknown): StorageBackend {
  const m = new MemoryStorage();
  return Object.assign(Object.create(m) as StorageBackend, { checkRoot: () => Promise.reject(why) });
}

/** Fails as the home says. */
function storageFor(p: Principal): StorageBackend {
  switch (p.home) {
    case 'sfthrow':
      throw new Error('no such tenant');
    case 'sfpromise':
      return Promise.resolve(new MemoryStorage()) as unknown as StorageBackend;
    case 'sfnull':
      return null as unknown as StorageBackend;
    case 'nofeatures': {
      // Accepted, it answered FEAT and SIZE with 451 and a bare TypeError (reading 'has').
      const m = new MemoryStorage();
      return Object.defineProperty(Object.create(m) as StorageBackend, 'features', { value: undefined });
    }
    case 'statonly':
      return { stat: () => Promise.reject(new Error('unused')) } as unknown as StorageBackend;
    case 'rootgone':
      return rootRejecting(new Error('bucket gone'));
    case 'rootundefined':
      return rootRejecting(undefined);
    default:
      return new MemoryStorage();
  }
}

for (const mode of MODES) {
  describe(
    `an embedder's authenticator or storageFor failing at login (${mode})`,
    { timeout: 60_000 },
    () => {
      const server = useFerry({ authenticator, storageFor });

      /** USER and PASS as `user`; the PASS reply, and the log lines from the USER on. */
      async function pass(user: string): Promise<{ code: number; text: string; from: number }> {
        return withClients(async (track) => {
          const from = server().logs.length;
          const ftp = track(await connectSecure(server(), mode));
          await ftp.cmd(`USER ${user}`, 331);
          const r = await ftp.cmd('PASS pw');
          if (r.code === 421)
            await ftp.closed; // the server closes after it
          else await ftp.cmd('PWD', 530); // not logged in
          return { code: r.code, text: textOf(r), from };
        });
      }

      for (const [user, cause] of [
        ['syncthrow', /authenticate\(\) threw Error: sync throw in authenticate/],
        ['rejecterror', /authenticate\(\) rejected with Error: directory down/],
        ['rejectstring', /authenticate\(\) rejected with "directory down"/],
        ['rejectundefined', /authenticate\(\) rejected with undefined/],
        ['rejectnull', /authenticate\(\) rejected with null/],
        ['sfthrow', /options\.storageFor threw Error: no such tenant/],
        ['sfpromise', /options\.storageFor: returned a Promise/],
        ['sfnull', /options\.storageFor: returned null/],
        ['nofeatures', /options\.storageFor: returned a storage whose features is undefined, not a Set/],
        ['statonly', /options\.storageFor: returned a storage whose list is undefined, not a function/],
      ] as const) {
        test(`${user}: 421 Accounts unavailable, the cause logged with the user`, async () => {
          const r = await pass(user);
          assert.equal(`${r.code} ${r.text}`, '421 Accounts unavailable, try again later.');
          const error = await waitForLog(server(), (l) => l.level === 'error', r.from);
          assert.match(error.msg, cause);
          assert.equal((error.obj as { user?: string }).user, user);
          assert.ok(
            !server()
              .logs.slice(r.from)
              .some((l) => l.msg === 'command failed' || l.msg === 'login'),
          );
        });
      }

      for (const [user, cause] of [
        ['rootgone', /home unusable: checkRoot\(\) rejected with Error: bucket gone/],
        ['rootundefined', /home unusable: checkRoot\(\) rejected with undefined/],
      ] as const) {
        test(`${user}: 530 Home directory unavailable, the cause logged with the user`, async () => {
          const r = await pass(user);
          assert.equal(`${r.code} ${r.text}`, '530 Home directory unavailable.');
          const line = await waitForLog(server(), (l) => l.msg === 'login failed', r.from);
          assert.deepEqual(line.obj, { ...line.obj, user });
          assert.match(String((line.obj as { reason?: unknown }).reason), cause);
        });
      }
    },
  );
}
