/**
 * A transfer command whose storage takes long before the 150 (an S3 gateway that paused, its
 * listing's first page late): that time is the server's, not the client's. A client that starts
 * its data connection's TLS only after the 150 (Python's ftplib) had its handshake limit counted
 * from its connect, so it got `522`; a data connection ready before the command (TLS done) had its
 * idle time counted, so it got `426 … data timeout`. Both now get their listing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { FileStat, StorageContext, VPath } from '../../src/storage/types.js';
import { forwardingStorage } from '../support/forwarding-storage.js';
import type { TestServer } from '../support/ferry.js';
import { loggedIn, startServer, textOf, withClients } from './harness.js';
import { testUsers } from '../support/test-hashes.js';

/** The handshake and data idle limits: above the 500 ms a connection waits for its command's direction. */
const LIMIT_MS = 1_000;
/** How long the storage holds each listing before its first entries: well past either limit. */
const PAUSE_MS = 2.5 * LIMIT_MS;

/** A server whose listings wait PAUSE_MS before their first batch (a paused gateway). */
async function serve(): Promise<TestServer> {
  const memory = new MemoryStorage({ files: { '/a.txt': Buffer.from('a') } });
  const paused = async function* (p: VPath, c: StorageContext): AsyncGenerator<readonly FileStat[]> {
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS)); // the gateway's pause
    yield* memory.list(p, c);
  };
  return startServer({
    authenticator: await testUsers([{ username: 'alice', password: 'secret', home: '' }]),
    storageFor: () => forwardingStorage(memory, { list: paused }),
    timeouts: { handshakeMs: LIMIT_MS, dataIdleMs: LIMIT_MS },
  });
}

/** NLST on a data connection made by `open` (TLS after the 150 or before the command): listed, 226. */
async function listsAfterPause(tlsFirst: boolean): Promise<void> {
  const ts = await serve();
  try {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'explicit'));
      const conn = await ftp.openData(await ftp.epsv(), { tls: tlsFirst });
      await ftp.cmd('NLST', 150);
      const listed = await ftp.readAll(tlsFirst ? conn : await ftp.secureData(conn));
      const r = await ftp.expect();
      assert.equal(r.code, 226, textOf(r));
      assert.equal(listed.toString(), 'a.txt\r\n');
    });
  } finally {
    await ts.close();
  }
}

test('TLS started after the 150 (ftplib): the handshake limit counts from the 150, not the connect', () =>
  listsAfterPause(false));

test('a data connection ready before the command: its idle limit does not run before the 150', () =>
  listsAfterPause(true));
