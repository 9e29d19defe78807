/**
 * The control connection's idle period counts from the moment the server is done with the last
 * command (its final reply written, a transfer ended), as vsftpd's does, not from the client's
 * last bytes: a command or transfer that outlasts it must not leave the client only a fraction of it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import type { RawFtp } from '../support/raw-ftp.js';
import { loginAs, MODES, useFerry, withClients } from './harness.js';

const IDLE_MS = 1_000;
/**
 * A passive port nobody connects to gets its 425 this long after EPSV: a transfer command that
 * the server ends by its own clock, half an idle period after the client's last bytes + one.
 */
const CONNECT_MS = 1_500;
/** Replies cross loopback in far less; without the fix the 421 came ~IDLE_MS/2 after the reply. */
const SLACK_MS = 200;

/** Reads the next reply, which must be the idle timeout's 421; returns how long it took. */
async function untilIdleTimeout(ftp: RawFtp): Promise<number> {
  const from = performance.now();
  const r = await ftp.expect(421, IDLE_MS * 3);
  assert.match(r.lines.join(' '), /idle/i);
  return performance.now() - from;
}

describe('the control idle timeout after a long command', () => {
  const server = useFerry({ timeouts: { idleMs: IDLE_MS, dataConnectMs: CONNECT_MS } });

  for (const mode of MODES) {
    test(`${mode}: a transfer that outlasts the idle period (425 after the data wait) leaves a whole idle period after its reply`, async () => {
      const ts = server();
      await withClients(async (track) => {
        const ftp = await loginAs(ts, mode, ts.user, track, ts.password);
        await ftp.epsv();
        // Never connected: the server ends the transfer with 425 once CONNECT_MS have passed.
        await ftp.cmd('LIST', 150);
        await ftp.expect(425, CONNECT_MS * 3);
        const waited = await untilIdleTimeout(ftp);
        assert.ok(waited >= IDLE_MS - SLACK_MS, `421 only ${Math.round(waited)} ms after the 425`);
      });
    });

    test(`${mode}: a download held open past the idle period leaves a whole idle period after its 226`, async () => {
      const ts = server();
      // More than the socket buffers on both ends hold, so the server's send really waits.
      const big = Buffer.alloc(24 * 1024 * 1024, 7);
      await writeFile(path.join(ts.root, 'big.bin'), big);
      await withClients(async (track) => {
        const ftp = await loginAs(ts, mode, ts.user, track, ts.password);
        const conn = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd('RETR big.bin', 150);
        conn.stream.pause(); // the client stops reading: the transfer waits on a full socket
        // The clock holding it: another session's transfer the server ends with 425 CONNECT_MS
        // after that session's EPSV, itself after this RETR.
        const clock = await loginAs(ts, mode, ts.user, track, ts.password);
        await clock.epsv();
        await clock.cmd('LIST', 150);
        await clock.expect(425, CONNECT_MS * 3);
        const data = await ftp.readAll(conn);
        assert.equal(data.length, big.length);
        await ftp.expect(226);
        const waited = await untilIdleTimeout(ftp);
        assert.ok(waited >= IDLE_MS - SLACK_MS, `421 only ${Math.round(waited)} ms after the 226`);
      });
    });
  }
});
