/**
 * `ferry serve --workers 2` with a one-port passive range: a worker that gave its port up (to the
 * other worker's waiting PASV) while a transfer it accepted there still runs may bind that port
 * again as soon as it is free, not only once that transfer ends (Node's 'close' of a listener waits
 * for the connections it accepted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enterPassive } from '../support/ftps-session.js';
import { freeRangeOn } from '../support/ports.js';
import { textOf } from '../support/raw-ftp.js';
import { CONTENT, retrieveOn, startPassiveWorkers } from '../support/workers-passive.js';

/** Far longer than the test may take: a PASV answered only at its deadline fails the test. */
const CONNECT_WAIT_S = 600;
/** Hang guard: far more than a handoff takes (a few looks, 250 ms apart). */
const HANG_GUARD_MS = 30_000;

// Probed in a child process (see freeRangeOn).
const range = await freeRangeOn(1, ['127.0.0.1']);

test('--workers 2, one passive port: a worker whose upload still runs through the port it gave up gets the port back for its next PASV', async () => {
  const { r, login, stop: stopServer } = await startPassiveWorkers(range, CONNECT_WAIT_S);
  try {
    // A1 to the first worker (a tie), B to the other (fewer sessions), A2 to the first (a tie).
    const from = r.log.length;
    const a1 = await login('a');
    const b = await login('b');
    const a2 = await login('a');
    const [pidA1, pidA2] = await r.loginPids('a', from, 2);
    const pidB = await r.pidOfLogin('b');
    assert.notEqual(pidA1, pidB, 'A1 and B are served by different workers');
    assert.equal(pidA2, pidA1, 'A1 and A2 are served by the same worker');

    // A1's upload runs on the port (its data connection open, not ended): the port is idle there.
    const at = await enterPassive(a1);
    assert.equal(at.port, range.min);
    const upload = await a1.openData(at.port, { tls: true });
    await a1.cmd('STOR up.bin', 150);

    // B's PASV waits in the other worker; A1's worker gives its idle port up to it.
    b.send('PASV');
    const toB = await b.expect(undefined, HANG_GUARD_MS);
    assert.equal(toB.code, 227, textOf(toB));
    assert.deepEqual(await retrieveOn(b, at.port), CONTENT, "B's transfer on the port it was given");

    // A2's PASV in A1's worker: the port is B's worker's (idle) or free, never A1's upload's.
    // Without the fix it waited for A1's upload to end (here: its deadline).
    a2.send('PASV');
    const toA2 = await a2.expect(undefined, HANG_GUARD_MS);
    assert.equal(toA2.code, 227, textOf(toA2));
    assert.deepEqual(await retrieveOn(a2, at.port), CONTENT, "A2's transfer on the port it got back");

    await a1.uploadClean(upload, CONTENT);
    await a1.expect(226);
  } finally {
    await stopServer();
  }
});
