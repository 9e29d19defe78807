/**
 * A transfer command refused once its data connection is there (a client that connects and starts
 * TLS right after EPSV, as curl does): the refusal is written while that connection stays open, and
 * the connection then ends without a reset (what the client sent is read and dropped). Closed first
 * with the ClientHello unread (a reset), it made curl take the 553 for another command's reply.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MODES, loggedIn, textOf, useFerry, withClients, type Mode } from './harness.js';
import { socketClosed, withDeadline, type RawFtp } from '../support/raw-ftp.js';

/** The first bytes of a TLS ClientHello: the server reads none before the transfer command. */
const HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

/** What the data connection saw, in order: its end and errors, and when the client ended it. */
interface Watched {
  readonly sock: net.Socket;
  readonly seen: string[];
}

/** A data connection to the passive `port` that sends the start of a ClientHello, then waits. */
async function helloSent(ftp: RawFtp, port: number): Promise<Watched> {
  const sock = net.connect({ host: ftp.host, port });
  const seen: string[] = [];
  sock.on('error', (err: NodeJS.ErrnoException) => seen.push(`error ${err.code ?? err.message}`));
  sock.on('end', () => seen.push('end'));
  await new Promise<void>((resolve) => sock.once('connect', resolve));
  sock.write(HELLO_START);
  // The server accepts the connection before it reads a command sent after it was made.
  await ftp.cmd('NOOP', 200);
  return { sock, seen };
}

/** Ends the client's side and waits for the connection to close. */
async function endedByClient(w: Watched): Promise<void> {
  w.seen.push('client ends');
  w.sock.end();
  await socketClosed(w.sock);
}

describe('a transfer refused after its data connection was accepted', { timeout: 60_000 }, () => {
  const server = useFerry();

  const refusals = [
    { line: 'STOR dir', code: 553, what: 'STOR onto a directory' },
    { line: 'STOR nodir/f.txt', code: 553, what: 'STOR into a missing directory' },
    { line: 'APPE dir', code: 550, what: 'APPE onto a directory' },
  ];
  for (const mode of MODES as Mode[])
    for (const r of refusals)
      test(`${mode}, PROT P: ${r.what}: the ${r.code} while the connection is open, then no reset`, async () => {
        const ts = server();
        await mkdir(path.join(ts.root, 'dir'), { recursive: true });
        await withClients(async (track) => {
          const ftp = track(await loggedIn(ts, mode));
          await ftp.cmd('TYPE I', 200);
          const data = await helloSent(ftp, await ftp.epsv());
          const refusal = await ftp.cmd(r.line);
          assert.equal(refusal.code, r.code, textOf(refusal));
          await endedByClient(data);
          // Left for the client to close: neither ended nor reset before it had the reply.
          assert.deepEqual(data.seen, ['client ends', 'end']);
          await ftp.cmd('NOOP', 200);
        });
      });
});

describe('a transfer refused after its clear data connection was accepted', { timeout: 60_000 }, () => {
  const server = useFerry({ allowClearData: true });

  for (const mode of MODES as Mode[])
    test(`${mode}, PROT C: STOR onto a directory: 553, then the connection ends without a reset`, async () => {
      const ts = server();
      await mkdir(path.join(ts.root, 'dir'), { recursive: true });
      await withClients(async (track) => {
        const ftp = track(await loggedIn(ts, mode));
        await ftp.cmd('PROT C', 200);
        await ftp.cmd('TYPE I', 200);
        const data = await helloSent(ftp, await ftp.epsv());
        await ftp.cmd('STOR dir', 553);
        await endedByClient(data);
        assert.ok(!data.seen.some((s) => s.startsWith('error')), data.seen.join(', '));
      });
    });
});

describe('a RETR refused after its clear data connection was accepted', { timeout: 60_000 }, () => {
  const server = useFerry({ allowClearData: true });

  test('550, then the connection is closed once the client ends its side (it was kept until the next EPSV)', async () => {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(server(), 'explicit'));
      await ftp.cmd('PROT C', 200);
      const sock = net.connect({ host: ftp.host, port: await ftp.epsv(), allowHalfOpen: true });
      sock.on('error', () => {});
      await new Promise<void>((resolve) => sock.once('connect', resolve));
      await ftp.cmd('NOOP', 200); // accepted by now
      await ftp.cmd('RETR missing.txt', 550);
      sock.resume();
      sock.end();
      await withDeadline(socketClosed(sock), ftp.timeoutMs, 'the server to close the data connection');
      await ftp.cmd('NOOP', 200);
    });
  });
});
