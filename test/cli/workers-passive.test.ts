/**
 * `ferry serve --workers 2` with a one-port passive range: a port belongs to one worker at a time, and
 * a PASV in the other worker, waiting while it is held there, gets it once that worker lets it go,
 * not at its own deadline (another process's release wakes nobody in this one).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { enterPassive, secureLogin } from '../support/ftps-session.js';
import { ServeProcess } from '../support/ferry-process.js';
import { freeRangeOn } from '../support/ports.js';
import { textOf, type RawFtp } from '../support/raw-ftp.js';

const CONTENT = Buffer.alloc(16 * 1024, 'x');

/** Far longer than the test may take: a PASV answered only at its deadline fails the test. */
const CONNECT_WAIT_S = 600;

// Probed in a child process (see freeRangeOn).
const range = await freeRangeOn(1, ['127.0.0.1']);

/** The data connection to `port`, RETR file.bin: its bytes, after 226. */
async function retrieveOn(ftp: RawFtp, port: number): Promise<Buffer> {
  const conn = await ftp.openData(port, { tls: true });
  await ftp.cmd('RETR file.bin', 150);
  const data = await ftp.readAll(conn);
  await ftp.expect(226);
  return data;
}

test('--workers 2, one passive port: a PASV waiting while the other worker holds the port gets it soon after that worker lets it go', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-passive-'));
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
    await Promise.all(sessions.map((s) => s.close()));
    assert.equal(await r.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
