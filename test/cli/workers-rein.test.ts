/**
 * `ferry serve --workers 2`: the primary counts connections not logged in for all workers, and a
 * session that logs out (REIN) counts again, as in one process (test/e2e/defender.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { RawFtp, textOf, withDeadline } from '../support/raw-ftp.js';
import { ServeProcess } from '../support/ferry-process.js';

const LIMIT = 2;

let dir: string;
let root: string;
let config: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-rein-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  config = path.join(dir, 'ferry.yaml');
  // `sessionReuseScope: user` hands all of one address's connections to one worker: its reports
  // (logins, logouts) reach the primary in the order they happened, so every count below is exact.
  await writeFile(
    config,
    `sessionReuseScope: user\ndefender:\n  threshold: 1000\n  maxUnauthenticatedPerAddress: ${LIMIT}\n`,
  );
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const connect = (r: ServeProcess): Promise<RawFtp> =>
  RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });

/** The first reply a new connection to the explicit port gets (220, or 421 over the limit). */
async function greeting(r: ServeProcess): Promise<number> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.explicitPort, implicit: false });
  try {
    return (await ftp.expect()).code;
  } finally {
    await ftp.close();
  }
}

test('--workers 2: a session that logs out (REIN) counts as not logged in again; one over the limit gets 421 and is closed', async () => {
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', path.join(dir, 'data'), '--user', 'a:pw-a'],
    root,
  );
  const sessions: RawFtp[] = [];
  try {
    for (let i = 0; i <= LIMIT; i++) {
      const ftp = await connect(r);
      sessions.push(ftp);
      await ftp.expect(220);
      await ftp.login('a', 'pw-a');
    }
    const [first, last] = [sessions[0], sessions[LIMIT]];
    assert.ok(first && last);
    // LIMIT logged-in sessions log out: LIMIT connections not logged in, the limit.
    for (const ftp of sessions.slice(0, LIMIT)) {
      await ftp.cmd('REIN', 220);
      await withDeadline(ftp.peerEndedTls, ftp.timeoutMs, 'the server to end TLS (close_notify)');
      await ftp.stopTls();
    }
    assert.equal(await greeting(r), 421);
    const over = await last.cmd('REIN', 421);
    assert.match(textOf(over), /Too many connections not logged in from your address/);
    await withDeadline(last.closed, 10_000, 'the worker to close the session');

    // One logs in again: its place is free once its worker has told the primary (a few tries).
    await first.startTls();
    await first.expect(220);
    await first.login('a', 'pw-a');
    let code = 0;
    for (let i = 0; i < 200 && code !== 220; i++) code = await greeting(r);
    assert.equal(code, 220);
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    assert.equal(await r.stop(), 0);
  }
});
