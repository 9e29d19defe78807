/**
 * `ferry serve --workers 2` with a two-port passive range and clients behind one address: a worker
 * whose sessions keep transferring keeps its ports listening between transfers (a speed
 * optimisation). A PASV in the other worker, waiting on them, must make that worker give up the
 * idle ones, not wait until its deadline and get 425 while the ports sit idle between transfers.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parsePasvReply } from '../../src/protocol/address.js';
import { enterPassive, secureLogin } from '../support/ftps-session.js';
import { ServeProcess } from '../support/ferry-process.js';
import { freeRangeOn } from '../support/ports.js';
import { textOf, type RawFtp } from '../support/raw-ftp.js';

const CONTENT = Buffer.alloc(16 * 1024, 'x');

/** How long a PASV waits for a port; without the fix, B's PASV gets 425 after it. */
const CONNECT_WAIT_S = 15;

// Probed in a child process (see freeRangeOn).
const range = await freeRangeOn(2, ['127.0.0.1']);

/** The data connection to `port`, RETR file.bin: its bytes, after 226. */
async function retrieveOn(ftp: RawFtp, port: number): Promise<Buffer> {
  const conn = await ftp.openData(port, { tls: true });
  await ftp.cmd('RETR file.bin', 150);
  const data = await ftp.readAll(conn);
  await ftp.expect(226);
  return data;
}

test('--workers 2: a PASV waiting on ports the other worker keeps idle between its transfers gets one', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-passive-yield-'));
  const root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'file.bin'), CONTENT);
  const config = path.join(dir, 'ferry.yaml');
  await writeFile(
    config,
    `passivePorts: ${range.min}-${range.max}\ndataConnectTimeoutSeconds: ${CONNECT_WAIT_S}\nlogLevel: debug\n`,
  );
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', path.join(dir, 'data')].concat([
      '--user',
      'a:pw-a',
      '--user',
      'b:pw-b',
    ]),
    root,
  );
  const sessions: RawFtp[] = [];
  const login = async (user: string): Promise<RawFtp> => {
    const ftp = await secureLogin({
      host: '127.0.0.1',
      port: r.implicitPort,
      implicit: true,
      user,
      password: `pw-${user}`,
    });
    sessions.push(ftp);
    return ftp;
  };
  let busy = Promise.resolve();
  let stop = false;
  try {
    // A1 to the first worker (a tie), B to the other (fewer sessions), A2 to the first (a tie).
    const a1 = await login('a');
    const b = await login('b');
    const a2 = await login('a');
    const [pidA1, pidA2] = await r.loginPids('a', 0, 2);
    const pidB = await r.pidOfLogin('b');
    assert.equal(pidA1, pidA2, "both of A's sessions are served by one worker");
    assert.notEqual(pidA1, pidB, "B's session is served by the other worker");

    // A's sessions download side by side, again and again: each round needs both ports, and
    // between rounds A's worker keeps them listening for the next.
    const round = async (): Promise<void> => {
      const at1 = await enterPassive(a1);
      const at2 = await enterPassive(a2);
      const [d1, d2] = await Promise.all([retrieveOn(a1, at1.port), retrieveOn(a2, at2.port)]);
      assert.deepEqual([d1, d2], [CONTENT, CONTENT]);
    };
    await round();
    busy = (async () => {
      while (!stop) await round();
    })();
    busy.catch(() => {}); // awaited below

    const from = r.log.length;
    b.send('PASV');
    const reply = await b.expect(undefined, (CONNECT_WAIT_S + 30) * 1000);
    stop = true;
    const waited = await r.waitForLog(
      (l) => r.log.indexOf(l) >= from && l.msg === 'passive port: none free, waiting' && l.pid === pidB,
      "B's PASV waiting for a port",
    );
    assert.equal(waited.heldElsewhere, 2, "B's PASV first met both ports held by A's worker");
    // Without the fix, A's worker kept both ports for ever and B's PASV got 425 at its deadline.
    assert.equal(reply.code, 227, textOf(reply));
    const at = parsePasvReply(textOf(reply));
    assert.ok(at, textOf(reply));
    assert.deepEqual(await retrieveOn(b, at.port), CONTENT, "B's transfer on the port it was given");
    await busy; // A's last round may have waited for B's port
  } finally {
    stop = true;
    await busy.catch(() => {});
    await Promise.all(sessions.map((s) => s.close()));
    assert.equal(await r.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
