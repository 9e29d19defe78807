/**
 * A FUSE mount inside a home that stops answering (its daemon stopped with SIGSTOP: every call
 * under it blocks, as on a dead NFS server) must not freeze the server process: the session whose
 * MKD hangs there gets its 421 at the command time limit, another session's NOOP is answered
 * meanwhile. A storage tree with such a mount is served through the thread pool from its first
 * call (storage/local-filesystems.ts); a synchronous call there would block the event loop for good.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hostStorage } from '../../src/cli/user-storage.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

const COMMAND_MS = 1_000;
/**
 * A watchdog lets the mount go after this long, should the process be frozen (the defect): the
 * test then fails instead of hanging.
 */
const WATCHDOG_S = 20;

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (mounts FUSE)';
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing: no FUSE in this container';
  if (spawnSync('bindfs', ['--version'], { stdio: 'ignore' }).error)
    return 'bindfs is not installed (apt-get install bindfs)';
  return false;
}

/** The pid of the bindfs daemon serving `mountPoint` (it forks into the background once mounted). */
function bindfsPid(source: string, mountPoint: string): number {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (path.basename(argv[0] ?? '') === 'bindfs' && argv[1] === source && argv[2] === mountPoint)
      return Number(pid);
  }
  throw new Error(`no bindfs process for ${mountPoint}`);
}

/** The process's state letter (proc(5)): 'T' while stopped. */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('a FUSE mount in a home that stops answering', { skip: skipReason(), timeout: 120_000 }, () => {
  let source = '';
  let mountPoint = '';
  let daemon = 0;
  let unusable: string | undefined;
  // Registered first, so it runs first: unmounted before the server's temp root is removed.
  after(async () => {
    if (daemon !== 0) process.kill(daemon, 'SIGCONT');
    if (mountPoint === '') return;
    if (spawnSync('fusermount', ['-u', mountPoint], { stdio: 'ignore' }).status !== 0)
      spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    await rm(source, { recursive: true, force: true });
  });
  const server = useFerry({
    storageFor: (p) => hostStorage(p.home, false), // as `ferry serve` opens a home
    timeouts: { commandMs: COMMAND_MS },
  });

  before(async () => {
    source = await mkdtemp(path.join(tmpdir(), 'ferry-fuse-src-'));
    mountPoint = path.join(server().root, 'slow');
    await mkdir(mountPoint);
    try {
      execFileSync('bindfs', [source, mountPoint], { stdio: 'pipe' });
    } catch (err) {
      unusable = `bindfs cannot mount here (a container without mount rights?): ${String(err)}`;
      return;
    }
    daemon = bindfsPid(source, mountPoint);
  });

  test('MKD there gets its 421 at the time limit; another session is answered meanwhile', async (t) => {
    if (unusable !== undefined) return t.skip(unusable);
    await withClients(async (track) => {
      const stuck = track(await loggedIn(server(), 'explicit'));
      const other = track(await loggedIn(server(), 'explicit'));
      const from = server().logs.length;
      process.kill(daemon, 'SIGSTOP');
      const watchdog = spawn('sh', ['-c', `sleep ${WATCHDOG_S}; kill -CONT ${daemon}`], { stdio: 'ignore' });
      try {
        stuck.send('MKD slow/newdir');
        const r = await stuck.expect(421, WATCHDOG_S * 1000);
        assert.match(textOf(r), /MKD did not finish in 1 s/);
        await other.cmd('NOOP', 200);
        assert.equal(stateOf(daemon), 'T', 'answered while the mount was still frozen');
      } finally {
        watchdog.kill();
        process.kill(daemon, 'SIGCONT');
      }
      // Released, the MKD finishes (its storage call was left to run, not abandoned on the event loop).
      const done = await waitForLog(
        server(),
        (l) => l.msg === 'command left to finish after its time limit has finished',
        from,
      );
      assert.equal((done.obj as { command?: string }).command, 'MKD');
    });
  });
});
