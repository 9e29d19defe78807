/**
 * The session report (GET /sessions, `ferry who`) of a transfer that stopped moving: its rate and
 * the time since its bytes last moved tell it from one that moves, which its byte count and its
 * idle time (0 while a transfer runs) cannot. The report is read as if 11 minutes had passed (the
 * clock mocked for that one synchronous call), not by waiting them.
 */
import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import type { SessionReport } from '../../src/server/session-report.js';
import { writeAll, type RawFtp } from '../support/raw-ftp.js';
import { loginAs, useFerry, withClients } from './harness.js';

const LATER_S = 11 * 60;

describe('the session report of a stalled transfer', { timeout: 60_000 }, () => {
  const server = useFerry();
  const of = (ftp: RawFtp): SessionReport | undefined =>
    server()
      .server.sessions()
      .find((x) => x.port === ftp.socket.localPort);

  /** The report once the server has counted `bytes` of the transfer (it counts them as they pass). */
  async function counted(ftp: RawFtp, bytes: number): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (of(ftp)?.doing?.bytes !== bytes) {
      assert.ok(Date.now() < deadline, `never counted ${bytes} B: ${JSON.stringify(of(ftp))}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The session's report as the clock will read `s` seconds from now. */
  function reportIn(ftp: RawFtp, s: number): SessionReport | undefined {
    mock.timers.enable({ apis: ['Date'], now: Date.now() + s * 1000 });
    try {
      return of(ftp);
    } finally {
      mock.timers.reset();
    }
  }

  test('an upload whose client sent 1000 B and stopped: rate 0, no progress for 11 minutes, while idle stays 0', async () => {
    await withClients(async (track) => {
      const ftp = await loginAs(server(), 'implicit', server().user, track, server().password);
      await ftp.cmd('TYPE I', 200);
      const up = await ftp.openData(await ftp.epsv(), { tls: true });
      await ftp.cmd('STOR held.bin', 150);
      await writeAll(up.stream, Buffer.alloc(1000, 1), ftp.timeoutMs);
      await counted(ftp, 1000);
      const s = reportIn(ftp, LATER_S);
      assert.ok(s?.doing, JSON.stringify(s));
      const { sinceProgressSeconds, ...rest } = s.doing;
      assert.deepEqual(rest, {
        command: 'STOR',
        path: '/held.bin',
        bytes: 1000,
        bytesPerSecond: 0,
        direction: 'upload',
      });
      // The mocked clock is 11 minutes ahead of the moment the test's last byte was counted, or more.
      assert.ok(
        sinceProgressSeconds !== null &&
          sinceProgressSeconds >= LATER_S &&
          sinceProgressSeconds < LATER_S + 60,
        `sinceProgressSeconds ${sinceProgressSeconds}`,
      );
      assert.equal(s.idleSeconds, 0, 'a running transfer is never idle: hence the new fields');
      up.stream.destroy();
      await ftp.expect();
    });
  });
});
