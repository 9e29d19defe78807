/**
 * A FUSE mount inside a home that stops answering (its daemon stopped with SIGSTOP: every call
 * under it blocks, as on a dead NFS server) must not freeze the server process: the session whose
 * MKD hangs there gets its 421 at the command time limit, another session's NOOP is answered
 * meanwhile; an upload there that freezes after its 150 gets its 426 at the data idle timeout, the
 * file it replaced left as it was. A storage tree with such a mount is served through the thread
 * pool from its first call (storage/local-filesystems.ts); a synchronous call there would block the
 * event loop for good.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hostStorage } from '../../src/cli/user-storage.js';
import { bindfsPid, noBindfs, stateOf, thawLater, unmount } from '../support/frozen-mount.js';
import { writeAll } from '../support/raw-ftp.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients } from './harness.js';

const COMMAND_MS = 1_000;
/**
 * A watchdog lets the mount go after this long, should the process be frozen (the defect): the
 * test then fails instead of hanging.
 */
const WATCHDOG_S = 20;
/** Long enough for a data connection's TLS handshake on a busy machine. */
const DATA_IDLE_MS = 1_500;

describe('a FUSE mount in a home that stops answering', { skip: noBindfs(), timeout: 120_000 }, () => {
  let source = '';
  let mountPoint = '';
  let daemon = 0;
  let unusable: string | undefined;
  // Registered first, so it runs first: unmounted before the server's temp root is removed.
  after(async () => {
    if (daemon !== 0) process.kill(daemon, 'SIGCONT');
    if (mountPoint === '') return;
    unmount(mountPoint);
    await rm(source, { recursive: true, force: true });
  });
  const server = useFerry({
    storageFor: (p) => hostStorage(p.home, false), // as `ferry serve` opens a home
    timeouts: { commandMs: COMMAND_MS, dataIdleMs: DATA_IDLE_MS },
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
      const watchdog = thawLater(daemon, WATCHDOG_S);
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

  test('STOR there that freezes after its 150 gets 451 (storage, not the client) at the data idle timeout; the old file stays', async (t) => {
    if (unusable !== undefined) return t.skip(unusable);
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.store('slow/kept.bin', Buffer.from('old'));
      const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
      conn.stream.on('error', () => {}); // the server cuts it
      await ftp.cmd('STOR slow/kept.bin', 150);
      conn.stream.resume();
      await writeAll(conn.stream, Buffer.alloc(256 * 1024, 'n'));
      process.kill(daemon, 'SIGSTOP');
      const watchdog = thawLater(daemon, WATCHDOG_S);
      try {
        conn.stream.write(Buffer.alloc(3 << 20, 'n')); // more than storage takes now, never ended
        const r = await ftp.expect(451, WATCHDOG_S * 1000);
        assert.match(textOf(r), /Storage temporarily unavailable/);
        await ftp.cmd('NOOP', 200);
        assert.equal(stateOf(daemon), 'T', 'answered only once the mount thawed');
      } finally {
        watchdog.kill();
        process.kill(daemon, 'SIGCONT');
      }
      assert.equal((await ftp.retrieve('slow/kept.bin')).toString(), 'old');
    });
  });
});
