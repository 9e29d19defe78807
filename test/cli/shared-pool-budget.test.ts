/**
 * `ferry serve` gives every session's storage the process's one thread-pool budget
 * (storage/pool-budget.ts, cli/storage-config.ts): the calls into a mount that is not local are
 * capped for the process, not per session. The served tree has a FUSE mount below it that never
 * answers (frozen_fuse.py, mounted in the server's own mount namespace), so the tree's calls take
 * slots; as many sessions as the mount has slots each block there in a RETR (the responder names
 * each call it receives), and another user's RETR of a plain file beside it must wait for a slot:
 * it gets the command time limit's 421. With a budget per session it would have been served (150).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PoolBudget, threadPoolSize } from '../../src/storage/pool-budget.js';
import { CLIENT_BINARIES, SUPPORT_DIR } from '../support/clients.js';
import { ServeProcess } from '../support/ferry-process.js';
import { secureLogin } from '../support/ftps-session.js';
import { type RawFtp, textOf } from '../support/raw-ftp.js';

/** Slots per mount in the server: its pool is this process's size (it inherits the environment). */
const SLOTS = new PoolBudget(threadPoolSize()).perMount;

/** Why the server cannot have a FUSE mount in a mount namespace of its own here, or false. */
function noPrivateFuse(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (a mount namespace, a FUSE mount)';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing: no FUSE in this container';
  const r = spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'unshare --mount does not work here';
}

/**
 * Runs the server (the command after it) in a mount namespace of its own, with a FUSE mount at
 * `$0` answered by frozen_fuse.py (on the device's descriptor; the server does not inherit it).
 * `mount -i`: where fuse is installed (bindfs brings it) mount.fuse would take `ferry-test` for a program.
 */
const FROZEN_MOUNT = [
  ...['unshare', '--mount', '--propagation', 'private', 'sh', '-c'],
  'exec 3<>/dev/fuse && mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 ferry-test "$0" && ' +
    `{ ${CLIENT_BINARIES.python3} ${path.join(SUPPORT_DIR, 'frozen_fuse.py')} <&3 & } && exec "$@" 3<&-`,
];

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pool-budget-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test(
  "one session's calls wait for another's slots on a mount that is not local: the budget is the process's",
  { skip: noPrivateFuse() },
  async () => {
    const home = path.join(dir, 'home');
    const frozen = path.join(home, 'frozen');
    await mkdir(frozen, { recursive: true });
    await writeFile(path.join(home, 'free'), 'x');
    const config = path.join(dir, 'ferry.yaml');
    await writeFile(config, `root: ${home}\ndataDir: ${path.join(dir, 'data')}\ncommandTimeoutSeconds: 2\n`);
    const server = await ServeProcess.start(
      // One process: workers have a budget each, as they have a pool each.
      ['--workers', '1', '--config', config, '--user', 'alice:secret', '--user', 'bob:secret'],
      dir,
      [...FROZEN_MOUNT, frozen],
    );
    const responder = await server.waitForLog((l) => l.msg === 'fuse responder', 'frozen_fuse.py');
    const sessions: RawFtp[] = [];
    try {
      /** Logged in (its home checked: a call into the tree, before the slots are taken). */
      const login = async (user: string): Promise<RawFtp> => {
        const port = server.implicitPort;
        const ftp = await secureLogin({ host: '127.0.0.1', port, implicit: true, user, password: 'secret' });
        sessions.push(ftp);
        return ftp;
      };
      const holders = [];
      for (let i = 0; i < SLOTS; i++) holders.push(await login('alice'));
      const other = await login('bob');
      for (const [i, ftp] of holders.entries()) {
        await ftp.openData(await ftp.epsv(), { tls: true });
        ftp.send(`RETR frozen/f${i}`);
        await server.waitForLog(
          (l) => l.msg === 'fuse request' && l['name'] === `f${i}`,
          `the lookup of f${i}`,
        );
      }
      // Every slot of the mount is held by a call that waits for the FUSE daemon, until the test ends
      // it: bob's RETR can only wait for a slot, until the command time limit closes his session.
      // (The upload sweeper's walk at start waits there too, on a pool thread but no slot: with 4
      // threads, one is left for bob's RETR were it not held back.)
      await other.openData(await other.epsv(), { tls: true });
      other.send('RETR free');
      const r = await other.expect();
      assert.equal(
        r.code,
        421,
        `bob's RETR was served beside ${SLOTS} calls holding the slots: ${textOf(r)}`,
      );
      assert.match(textOf(r), /RETR did not finish in 2 s/);
    } finally {
      // The mount's connection ends with its daemon: the calls still waiting fail, the server stops.
      process.kill(Number(responder['pid']), 'SIGTERM');
      for (const ftp of sessions) await ftp.close();
      assert.equal(await server.stop(), 0);
    }
  },
);
