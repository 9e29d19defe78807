/**
 * A login refused with a 421 that closes (too many sessions for the user; too many failed logins
 * takes the same way out) ends the session at once, though the client keeps its socket open (ftplib does after an error):
 * it no longer counts as a connection not logged in from its address, and its socket is destroyed
 * within a short bound, in worker mode and in one process.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ServeProcess } from '../support/ferry-process.js';
import { setTimeout as delay } from 'node:timers/promises';
import { connectionsOn, descendants } from '../support/proc.js';
import { RawFtp, textOf } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

/** At most this many connections not logged in per address: the refused ones would fill it. */
const UNAUTHENTICATED = 3;

let dir: string;
let root: string;
let config: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-refused-logins-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  config = path.join(dir, 'ferry.yaml');
  const user = async (name: string, extra = ''): Promise<string> =>
    `  - name: ${name}\n    passwordHash: ${await testHash(`pw-${name}`)}\n    home: ${root}\n${extra}`;
  await writeFile(
    config,
    `defender:\n  maxUnauthenticatedPerAddress: ${UNAUTHENTICATED}\nusers:\n` +
      (await user('carol', '    maxSessions: 1\n')) +
      (await user('bob')),
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Implicit FTPS, greeted, from a client that does not close its side when the server does. */
async function connected(r: ServeProcess): Promise<RawFtp> {
  const ftp = await RawFtp.connect({
    host: '127.0.0.1',
    port: r.implicitPort,
    implicit: true,
    keepOpen: true,
  });
  await ftp.expect(220);
  return ftp;
}

/** A process that exited meanwhile holds none. */
function connectionsOnOrNone(pid: number, port: number): number {
  try {
    return connectionsOn(pid, port);
  } catch {
    return 0;
  }
}

for (const workers of ['2', '1']) {
  test(`--workers ${workers}: after a 421 that closes a login, the session no longer counts and its socket goes, though the client keeps it open`, async () => {
    const r = await ServeProcess.start(
      ['--workers', workers, '--config', config, '--data-dir', path.join(dir, `d${workers}`)],
      root,
    );
    const clients: RawFtp[] = [];
    try {
      const carol = await connected(r);
      clients.push(carol);
      await carol.login('carol', 'pw-carol');
      // As many refusals as the address may have connections not logged in.
      for (let i = 0; i < UNAUTHENTICATED; i++) {
        const again = await connected(r);
        clients.push(again);
        await again.cmd('USER carol', 331);
        assert.match(textOf(await again.cmd('PASS pw-carol', 421)), /Too many sessions for this user/);
      }

      // Another user from the same address is let in: none of those counts as not logged in.
      const bob = await connected(r);
      clients.push(bob);
      await bob.login('bob', 'pw-bob');
      // The refused clients never close: the server lets their sockets go after a short linger,
      // not at the login timeout (60 s). Only carol's and bob's stay (bounded wait: no event says so).
      const pids = [r.child.pid ?? 0, ...descendants(r.child.pid ?? 0).map((p) => p.pid)];
      const held = (): number => pids.reduce((n, pid) => n + connectionsOnOrNone(pid, r.implicitPort), 0);
      for (let i = 0; i < 200 && held() > 2; i++) await delay(50);
      assert.equal(held(), 2, 'connections the server holds on its implicit port');
      await carol.cmd('NOOP', 200);
    } finally {
      for (const s of clients) await s.close();
      assert.equal(await r.stop(), 0);
    }
  });
}
