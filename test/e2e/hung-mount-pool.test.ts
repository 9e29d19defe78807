/**
 * Sessions on a home that stops answering (a FUSE mount whose daemon is stopped with SIGSTOP, as a
 * dead NFS server) must not take the whole thread pool: more of them, each with a command hung
 * there, than the pool has threads, and a user with a local home still logs in and downloads. Their
 * calls take slots of the pool's budget for filesystems that are not local (storage/pool-budget.ts);
 * those beyond wait without a thread, get their 421 at the command time limit, and the calls left
 * to finish end once the mount answers again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isLocalTree } from '../../src/storage/local-filesystems.js';
import { LocalStorage } from '../../src/storage/local.js';
import { PoolBudget, threadPoolSize } from '../../src/storage/pool-budget.js';
import type { UserTable } from '../../src/auth/users.js';
import { warmedTable } from '../support/ferry.js';
import { bindfsPid, noBindfs, stateOf, thawLater, unmount } from '../support/frozen-mount.js';
import { loginAs, textOf, useFerry, waitForLog, withClients } from './harness.js';

const COMMAND_MS = 1_000;
/** The mount is let go after this long should the test hang (the defect): it then fails instead. */
const WATCHDOG_S = 20;
/** This process's pool (4 unless its environment sets UV_THREADPOOL_SIZE), as the server's budget. */
const THREADS = threadPoolSize();
/** Past LocalStorage's small-read size: streamed, a read (and a slot) at a time. */
const BIG = Buffer.alloc(1 << 20, 7);

describe(
  'sessions on a frozen mount, more than the thread pool has threads',
  {
    skip: noBindfs(),
    timeout: 120_000,
  },
  () => {
    const budget = new PoolBudget(THREADS);
    let source = '';
    let mountPoint = '';
    let localHome = '';
    let daemon = 0;
    let unusable: string | undefined;
    let users: UserTable | undefined;
    after(async () => {
      if (daemon !== 0) process.kill(daemon, 'SIGCONT');
      if (mountPoint !== '') unmount(mountPoint);
      for (const d of [source, mountPoint, localHome])
        if (d !== '') await rm(d, { recursive: true, force: true });
    });
    before(async () => {
      source = await mkdtemp(path.join(tmpdir(), 'ferry-fuse-src-'));
      mountPoint = await mkdtemp(path.join(tmpdir(), 'ferry-fuse-home-'));
      localHome = await mkdtemp(path.join(tmpdir(), 'ferry-local-home-'));
      await writeFile(path.join(source, 'f5'), '12345');
      await writeFile(path.join(source, 'big'), BIG);
      await writeFile(path.join(localHome, 'a.txt'), 'local bytes');
      if (!isLocalTree(localHome)) unusable = `${tmpdir()} is not on a local filesystem`;
      // fz logged in once already: PASS is bounded by the 1 s command time limit too, and its
      // sessions are set-up here (alice's login, the point of the test, still hashes).
      users = await warmedTable(
        [
          { username: 'alice', password: 'secret', home: localHome },
          { username: 'fz', password: 'pw', home: mountPoint },
        ],
        ['fz'],
      );
      if (unusable !== undefined) return;
      try {
        execFileSync('bindfs', [source, mountPoint], { stdio: 'pipe' });
      } catch (err) {
        unusable = `bindfs cannot mount here (a container without mount rights?): ${String(err)}`;
        return;
      }
      daemon = bindfsPid(source, mountPoint);
    });
    const server = useFerry(() => ({
      ...(users && { authenticator: users }),
      storageFor: (p) =>
        new LocalStorage({
          root: p.home,
          readOnly: p.readOnly,
          borrowWorkingDirectory: true,
          poolBudget: budget,
        }),
      timeouts: { commandMs: COMMAND_MS },
    }));

    test('a local user logs in and downloads; the stuck calls end once the mount answers', async (t) => {
      if (unusable !== undefined) return t.skip(unusable);
      await withClients(async (track) => {
        const stuck = [];
        for (let i = 0; i <= THREADS; i++) stuck.push(await loginAs(server(), 'explicit', 'fz', track));
        // While the mount answers, its downloads stream through their slots.
        assert.deepEqual(await stuck[0]?.retrieve('big'), BIG);
        assert.equal(budget.inUse, 0);
        const from = server().logs.length;
        process.kill(daemon, 'SIGSTOP');
        const watchdog = thawLater(daemon, WATCHDOG_S);
        try {
          for (const s of stuck) s.send('SIZE f5');
          for (const s of stuck)
            assert.match(textOf(await s.expect(421, WATCHDOG_S * 1000)), /SIZE did not finish in 1 s/);
          const alice = await loginAs(server(), 'explicit', 'alice', track, 'secret');
          assert.equal((await alice.retrieve('a.txt')).toString(), 'local bytes');
          // The hung calls keep their threads and slots; the others waited for a slot, holding none.
          assert.equal(budget.inUse, Math.min(budget.perMount, THREADS + 1));
          assert.equal(stateOf(daemon), 'T', 'served while the mount was still frozen');
        } finally {
          watchdog.kill();
          process.kill(daemon, 'SIGCONT');
        }
        // Thawed, every SIZE has ended (those that waited for a slot ended with their session).
        const ended = (l: { msg: string; obj: unknown }): boolean =>
          l.msg === 'command left to finish after its time limit has finished' &&
          (l.obj as { command?: string }).command === 'SIZE';
        await waitForLog(
          server(),
          () => server().logs.slice(from).filter(ended).length === THREADS + 1,
          from,
        );
        assert.equal(budget.inUse, 0);
      });
    });
  },
);
