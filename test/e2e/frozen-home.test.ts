/**
 * A home on a frozen mount (a dead NFS server, a stopped FUSE daemon): its login's home check never
 * returns and keeps one of libuv's pool threads for good. A client retrying that login more times
 * than the pool has threads must not lock everyone else out: another user's password check (scrypt,
 * in the same pool) still runs, since at most HOME_CHECKS_PER_HOME checks of one home hold a thread.
 * The frozen mount is a FIFO: opening it for reading blocks its pool thread until a writer comes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { Authenticator, Principal } from '../../src/auth/types.js';
import { UserTable } from '../../src/auth/users.js';
import { HOME_CHECKS_PER_HOME } from '../../src/server/home-checks.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StorageContext } from '../../src/storage/types.js';
import { RawFtp, withDeadline } from '../support/raw-ftp.js';
import { connectSecure, loginAs, useFerry, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

/** The test process's pool (Node's 4 unless its environment says otherwise). */
const POOL = Number(process.env['UV_THREADPOOL_SIZE'] || 4);

let dir: string;
let fifo: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-frozen-'));
  fifo = path.join(dir, 'mount');
  execFileSync('mkfifo', [fifo]);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Home checks that block in the pool (open(2) of the FIFO) until `thaw()`. */
const frozen = {
  /** storageFor() calls for the frozen user: each login right before its home check. */
  logins: 0,
  blocked: 0,
  /** From thaw() on, checks pass at once (the logins that waited for a slot then get one). */
  thawed: false,
  reached: (): void => {},
  drained: (): void => {},
};

class FrozenHome extends MemoryStorage {
  async checkRoot(_c: StorageContext): Promise<void> {
    if (frozen.thawed) return;
    frozen.blocked++;
    try {
      await (await open(fifo, constants.O_RDONLY)).close();
    } finally {
      if (--frozen.blocked === 0) frozen.drained();
    }
  }
}

/** Lets every blocked open(2) of the FIFO through: a writer held open until none is left blocked. */
async function thaw(): Promise<void> {
  frozen.thawed = true;
  if (frozen.blocked === 0) return;
  const drained = new Promise<void>((resolve) => (frozen.drained = resolve));
  // Read-write: never blocks on a FIFO, and is the writer the readers wait for. Synchronous: the
  // pool may have no thread left for it.
  const writer = openSync(fifo, constants.O_RDWR);
  try {
    await withDeadline(drained, 10_000, 'the frozen home checks to return');
  } finally {
    closeSync(writer);
  }
}

describe('a home on a frozen mount', { timeout: 120_000 }, () => {
  let users: UserTable;
  before(async () => {
    // Hashed now: scrypt needs the pool the test then fills.
    users = await testUsers([{ username: 'alice', password: 'alice-password', home: '/' }]);
  });
  const stuck: Principal = { username: 'stuck', home: '/frozen', readOnly: false };
  const authenticator: Authenticator = {
    // The frozen user's password costs no scrypt: its logins go straight to their home check.
    authenticate: async (c, signal) =>
      c.username === 'stuck' ? { ok: true, principal: stuck } : users.authenticate(c, signal),
  };
  const healthy = new MemoryStorage();
  const server = useFerry(() => ({
    authenticator,
    storageFor: (p) => {
      if (p.username !== 'stuck') return healthy;
      if (++frozen.logins === POOL + 1) frozen.reached();
      return new FrozenHome();
    },
  }));

  test(`${POOL + 1} logins of its user hang; another user still logs in`, async () => {
    const reached = new Promise<void>((resolve) => (frozen.reached = resolve));
    try {
      await withClients(async (track) => {
        const hung: RawFtp[] = [];
        for (let i = 0; i <= POOL; i++) {
          const ftp = track(await connectSecure(server(), 'explicit'));
          await ftp.cmd('USER stuck', 331);
          ftp.send('PASS anything');
          hung.push(ftp);
        }
        await withDeadline(reached, 10_000, 'the frozen logins reaching their home checks');
        await nextTurn(); // each has started its check, or waits for one
        // Her password check (scrypt) needs a pool thread.
        const alice = await loginAs(server(), 'explicit', 'alice', track, 'alice-password');
        await alice.cmd('PWD', 257);
        assert.equal(frozen.blocked, HOME_CHECKS_PER_HOME, 'home checks of the frozen home in the pool');
        await thaw();
        for (const ftp of hung) await ftp.expect(230);
      });
    } finally {
      await thaw();
    }
  });
});
