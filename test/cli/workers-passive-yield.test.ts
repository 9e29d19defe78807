/**
 * `ferry serve --workers 2` with a two-port passive range and clients behind one address: a worker
 * whose sessions keep transferring keeps its ports listening between transfers (a speed
 * optimisation). A PASV in the other worker, waiting on them, must make that worker give up the
 * idle ones, not wait until its deadline and get 425 while the ports sit idle between transfers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePasvReply } from '../../src/protocol/address.js';
import { enterPassive } from '../support/ftps-session.js';
import { freeRangeOn } from '../support/ports.js';
import { textOf } from '../support/raw-ftp.js';
import { CONTENT, retrieveOn, startPassiveWorkers } from '../support/workers-passive.js';

/** How long a PASV waits for a port; without the fix, B's PASV gets 425 after it. */
const CONNECT_WAIT_S = 15;

// Probed in a child process (see freeRangeOn).
const range = await freeRangeOn(2, ['127.0.0.1']);

test('--workers 2: a PASV waiting on ports the other worker keeps idle between its transfers gets one', async () => {
  const { r, login, stop: stopServer } = await startPassiveWorkers(range, CONNECT_WAIT_S);
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
    await stopServer();
  }
});
