/**
 * `ferry serve --workers 2` with a one-port passive range: a port belongs to one worker at a time, and
 * a PASV in the other worker, waiting while it is held there, gets it once that worker lets it go,
 * not at its own deadline (another process's release wakes nobody in this one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enterPassive } from '../support/ftps-session.js';
import { freeRangeOn } from '../support/ports.js';
import { textOf } from '../support/raw-ftp.js';
import { CONTENT, retrieveOn, startPassiveWorkers } from '../support/workers-passive.js';

/** Far longer than the test may take: a PASV answered only at its deadline fails the test. */
const CONNECT_WAIT_S = 600;

// Probed in a child process (see freeRangeOn).
const range = await freeRangeOn(1, ['127.0.0.1']);

test('--workers 2, one passive port: a PASV waiting while the other worker holds the port gets it soon after that worker lets it go', async () => {
  const { r, login, stop: stopServer } = await startPassiveWorkers(range, CONNECT_WAIT_S);
  try {
    // A to the first worker (a tie), B to the other (the one with fewer sessions).
    const a = await login('a');
    const b = await login('b');
    const [pidA, pidB] = [await r.pidOfLogin('a'), await r.pidOfLogin('b')];
    assert.notEqual(pidA, pidB, 'the two sessions are served by different workers');

    // A's worker holds the only port (A's download pending); B's PASV waits in the other worker.
    const at = await enterPassive(a);
    assert.equal(at.port, range.min);
    const from = r.log.length;
    b.send('PASV');
    await r.waitForLog(
      (l) => r.log.indexOf(l) >= from && l.msg === 'passive port: none free, waiting' && l.pid === pidB,
      "B's PASV waiting for a port",
    );

    // A downloads; its worker then keeps the idle port a moment (its keep period) and closes it.
    assert.deepEqual(await retrieveOn(a, at.port), CONTENT);
    // Without retrying, B's worker slept until its deadline (CONNECT_WAIT_S) before trying again.
    const reply = await b.expect(undefined, 30_000);
    assert.equal(reply.code, 227, textOf(reply));
    assert.deepEqual(await retrieveOn(b, at.port), CONTENT, "B's transfer on the port it was given");
  } finally {
    await stopServer();
  }
});
