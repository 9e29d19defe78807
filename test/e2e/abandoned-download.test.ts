/**
 * A download whose client sends TLS close_notify on the data connection and stops reading ends at
 * once with 426, not after the data idle timeout. The client that completed TLS before its RETR
 * (the server then cannot know the direction at the handshake) too. The server sees the client's
 * end itself: without that, TLS begun after RETR still got its 426 but 1 s late, from the
 * abandonment meant for a frozen storage, which blamed storage in a warning.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type tls from 'node:tls';
import { describe, test } from 'node:test';
import { loggedIn, textOf, useFerry, withClients } from './harness.js';

/** Far more than loopback's socket buffers hold: the download cannot end while it is not read. */
const FILE_BYTES = 32 * 1024 * 1024;
/** Bounds waits on events that come at once when the server does its part. */
const EVENT_MS = 5_000;
const VERSIONS: readonly tls.SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];
/** Logged (before its 426) when storage, not the client, is taken to hold the transfer up. */
const STORAGE_BLAMED = /storage did not stop when the data connection was cut/;

describe("close_notify on a download's data connection", { timeout: 60_000 }, () => {
  const server = useFerry({ timeouts: { dataIdleMs: 60_000 } });

  for (const version of VERSIONS) {
    for (const order of ['TLS after RETR', 'TLS before RETR'] as const) {
      test(`${version}, ${order}: the client abandons the download: 426 at once`, async () => {
        const ts = server();
        const from = ts.logs.length;
        await writeFile(path.join(ts.root, 'big.bin'), Buffer.alloc(FILE_BYTES));
        await withClients(async (track) => {
          const ftp = track(await loggedIn(ts, 'implicit', version));
          await ftp.cmd('TYPE I', 200);
          const port = await ftp.epsv();
          let data;
          if (order === 'TLS after RETR') {
            const plain = await ftp.openData(port, { tls: false });
            await ftp.cmd('RETR big.bin', 150);
            data = await ftp.secureData(plain);
          } else {
            data = await ftp.openData(port, { tls: true });
            await ftp.cmd('RETR big.bin', 150);
          }
          data.tls?.end(); // close_notify; nothing is read
          const r = await ftp.expect(426, EVENT_MS);
          assert.equal(textOf(r), 'Connection closed; transfer aborted.');
          const blamed = ts.logs.slice(from).filter((l) => STORAGE_BLAMED.test(l.msg));
          assert.deepEqual(blamed, [], 'the client ended it: storage is not blamed');
        });
      });
    }
  }
});
