/**
 * What a refused transfer's data connection left for its client to close may hold of the server:
 * one per session (a newer one cuts the older), none after close(). Unbounded, a session looping EPSV, ClientHello, STOR onto a directory and never closing
 * took the server's every descriptor. The server runs in this process: its end of each connection
 * is found in /proc/net/tcp and looked for among this process's descriptors.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loggedIn, useFerry, withClients } from './harness.js';
import type { RawFtp } from '../support/raw-ftp.js';

/** The first bytes of a TLS ClientHello: the server reads none before the transfer command. */
const HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
const ROUNDS = 30;

/** A data connection to `port` that never closes; `hello`: it sends the start of a ClientHello. */
async function dataConnection(ftp: RawFtp, port: number, hello: boolean): Promise<net.Socket> {
  // Half-open allowed: the client's side stays open whatever the server does with its own.
  const sock = net.connect({ host: ftp.host, port, allowHalfOpen: true });
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.once('connect', resolve));
  if (hello) sock.write(HELLO_START);
  await ftp.cmd('NOOP', 200); // the server has accepted it (and read what it sent) by its reply
  return sock;
}

/** Socket inodes this process holds a descriptor of. */
function ownSockets(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return inodes;
}

/** How many of these client sockets have their server end still open in this process. */
function serverEndsOpen(clients: readonly net.Socket[]): number {
  const table = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  const own = ownSockets();
  const hex = (n: number | undefined): string => (n ?? -1).toString(16).toUpperCase().padStart(4, '0');
  return clients.filter((c) => {
    // The server's end: local port = the client's remote (passive) port, remote = the client's local.
    const local = `:${hex(c.remotePort)}`;
    const remote = `:${hex(c.localPort)}`;
    return table.some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1]?.endsWith(local) && f[2]?.endsWith(remote) && f[9] !== undefined && own.has(f[9]);
    });
  }).length;
}

describe('refused transfers whose data connections the client never closes', { timeout: 60_000 }, () => {
  const server = useFerry();

  test(`${ROUNDS} refused STORs hold at most one of their data connections open`, async () => {
    const ts = server();
    await mkdir(path.join(ts.root, 'dir'), { recursive: true });
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'explicit'));
      const kept: net.Socket[] = [];
      try {
        for (let i = 0; i < ROUNDS; i++) {
          kept.push(await dataConnection(ftp, await ftp.epsv(), true));
          // Found while its transfer waits: what is counted below is what the server holds.
          if (i === 0) assert.equal(serverEndsOpen(kept), 1);
          await ftp.cmd('STOR dir', 553);
        }
        await ftp.cmd('NOOP', 200);
        assert.ok(serverEndsOpen(kept) <= 1, `${serverEndsOpen(kept)} of ${ROUNDS} still open`);
      } finally {
        for (const s of kept) s.destroy();
      }
    });
  });
});

describe('close() with a refused transfer data connection left open', { timeout: 60_000 }, () => {
  const server = useFerry();

  test('close() returns with the server end of that connection closed', async () => {
    const ts = server();
    await mkdir(path.join(ts.root, 'dir'), { recursive: true });
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'explicit'));
      const sock = await dataConnection(ftp, await ftp.epsv(), true);
      try {
        assert.equal(serverEndsOpen([sock]), 1, 'found while its transfer waits');
        await ftp.cmd('STOR dir', 553);
        await ts.close();
        assert.equal(serverEndsOpen([sock]), 0);
      } finally {
        sock.destroy();
      }
    });
  });
});

describe('finished transfers whose data connections the client never closes', { timeout: 60_000 }, () => {
  const server = useFerry({ allowClearData: true });

  test(`${ROUNDS} downloads hold at most one of their data connections open (each held 5 s before)`, async () => {
    const ts = server();
    await writeFile(path.join(ts.root, 'f.txt'), 'some bytes\n');
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'explicit'));
      await ftp.cmd('PROT C', 200);
      const kept: net.Socket[] = [];
      try {
        for (let i = 0; i < ROUNDS; i++) {
          const sock = await dataConnection(ftp, await ftp.epsv(), false);
          kept.push(sock);
          const ended = new Promise((resolve) => sock.once('end', resolve));
          sock.resume();
          await ftp.cmd('RETR f.txt', 150);
          await ftp.expect(226);
          await ended; // the server's FIN: its side is done, ours is never closed
        }
        await ftp.cmd('NOOP', 200);
        assert.ok(serverEndsOpen(kept) <= 1, `${serverEndsOpen(kept)} of ${ROUNDS} still open`);
      } finally {
        for (const s of kept) s.destroy();
      }
    });
  });
});
