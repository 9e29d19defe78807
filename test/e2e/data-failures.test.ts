/**
 * A data connection that cannot be opened says why, in the 425 (as ProFTPD's `425 Unable to build
 * data connection: Connection refused`) and in the transfer's log line (the errno).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { waitEvent } from '../support/raw-ftp.js';
import { loggedIn, textOf, useFerry, waitForLog, withClients, type LogLine } from './harness.js';

/** A port on 127.0.0.1 that nothing listens on any more. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await waitEvent(server, 'listening', 5_000);
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const transferLine = (command: string) => (l: LogLine) =>
  l.msg === 'transfer' && (l.obj as { transfer?: string }).transfer === command;

describe('a data connection that cannot be opened: 425 saying why', { timeout: 60_000 }, () => {
  const server = useFerry({ timeouts: { dataConnectMs: 1_000 } });

  test('active mode to a closed port: 425 connection refused, the transfer line has the errno', async () => {
    await writeFile(path.join(server().root, 'file.txt'), 'x');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      const from = server().logs.length;
      await ftp.cmd(`EPRT |1|127.0.0.1|${await closedPort()}|`, 200);
      await ftp.cmd('RETR file.txt', 150);
      const r = await ftp.expect();
      assert.equal(`${r.code} ${textOf(r)}`, "425 Can't open data connection: connection refused.");
      const line = await waitForLog(server(), transferLine('RETR'), from);
      assert.deepEqual(
        { reply: (line.obj as { reply?: number }).reply, err: (line.obj as { err?: string }).err },
        { reply: 425, err: 'ECONNREFUSED' },
      );
    });
  });

  test('EPSV and nobody connects: 425 saying the passive port waited its timeout', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'implicit'));
      const from = server().logs.length;
      await ftp.epsv();
      await ftp.cmd('LIST', 150);
      const r = await ftp.expect();
      assert.equal(
        `${r.code} ${textOf(r)}`,
        "425 Can't open data connection: nobody connected to the passive port within 1 s.",
      );
      const line = await waitForLog(server(), transferLine('LIST'), from);
      assert.equal((line.obj as { err?: string }).err, 'ETIMEDOUT');
    });
  });
});
