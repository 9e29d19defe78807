/**
 * The per-session command budget (limits.maxCommandRate, maxCommandBurst): a client that pipelines
 * commands past it gets every reply, in order, only later (the server stops reading it meanwhile);
 * other sessions are served in between; a session held back with its queue full is scored and, at
 * the defender's threshold, banned and closed (test/cli/command-rate.test.ts, from the config file).
 * A tiny budget makes the flood a few hundred commands; everything is awaited as events (replies,
 * log lines), nothing is timed. 127.0.0.2 floods, 127.0.0.1 is the other user.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { floodCommands, type Flooder } from '../support/command-flood.js';
import { RawFtp, withDeadline, type DataConnection } from '../support/raw-ftp.js';
import type { TestServer } from '../support/ferry.js';
import {
  loginAs,
  MODES,
  portOf,
  useFerry,
  waitForLog,
  withClients,
  type LogLine,
  type Mode,
} from './harness.js';

const LEGIT = '127.0.0.1';
const FLOODER = '127.0.0.2';
/** 20 a second after 5 at once: a full queue (64) of them waits for seconds. */
const TINY = { maxCommandRate: 20, maxCommandBurst: 5 };
/** Commands the flood sends: at 20 a second, half a minute's worth (it is never answered whole). */
const FLOOD = 600;

/** FLOOD commands from FLOODER to the server's `mode` port (in clear on the explicit one). */
function flood(ts: TestServer, mode: Mode): Promise<Flooder> {
  return floodCommands({
    host: ts.host,
    port: portOf(ts, mode),
    tls: mode === 'implicit',
    localAddress: FLOODER,
    count: FLOOD,
  });
}

const from =
  (address: string) =>
  (l: LogLine): boolean =>
    (l.obj as { remote?: string }).remote === address;

/** Waits for the session from `address` to be scored for a command flood (a warning). */
async function floodScored(ts: TestServer, address: string, since: number): Promise<void> {
  const scored = await waitForLog(
    ts,
    (l) => l.msg.startsWith('command flood') && from(address)(l),
    since,
    30_000,
  );
  assert.equal(scored.level, 'warn');
}

describe('command budget: a pipelined flood is held back, not refused', () => {
  // Scores stay below any ban here: this suite looks at the delays alone.
  const server = useFerry({ limits: TINY, defender: { threshold: 10_000 } });

  for (const mode of MODES) {
    test(`${mode}: replies come in order, later; another session is served meanwhile; the flood is scored once it lasts`, async () => {
      const ts = server();
      const since = ts.logs.length;
      const flooder = await flood(ts, mode);
      try {
        const delayed = await waitForLog(
          ts,
          (l) => l.msg.startsWith('commands delayed') && from(FLOODER)(l),
          since,
        );
        assert.equal(delayed.level, 'info');
        assert.deepEqual(
          [
            (delayed.obj as { maxCommandRate?: number }).maxCommandRate,
            (delayed.obj as { maxCommandBurst?: number }).maxCommandBurst,
          ],
          [20, 5],
        );

        // Another user logs in and works while the flood waits its turn.
        const other = await RawFtp.connect({
          host: ts.host,
          port: portOf(ts, mode),
          implicit: mode === 'implicit',
          localAddress: LEGIT,
        });
        try {
          await other.expect(220);
          if (mode === 'explicit') await other.authTls('TLS');
          await other.login(ts.user, ts.password);
          await other.cmd('PWD', 257);
          await other.cmd('NOOP', 200);
        } finally {
          await other.close();
        }
        assert.ok(
          flooder.answered.length < FLOOD,
          `the flood was answered whole (${flooder.answered.length}) before another session's login`,
        );

        await withDeadline(flooder.until(40), 30_000, '40 replies to the flood');
        assert.deepEqual(
          flooder.answered.slice(0, 40),
          Array.from({ length: 40 }, (_, i) => i),
          'every reply, in the order of the commands',
        );
        assert.ok(
          flooder.lines.every((l) => l.startsWith('500 Unknown command QQ')),
          `nothing but the replies: ${flooder.lines.find((l) => !l.startsWith('500 '))}`,
        );

        // Its queue stays full: held back for a whole period (1 s at this budget), it is scored.
        await floodScored(ts, FLOODER, since);
        assert.equal(
          ts.logs.slice(since).filter((l) => l.msg.startsWith('commands delayed') && from(FLOODER)(l)).length,
          1,
          'said once, not per command',
        );
      } finally {
        await flooder.close();
      }
    });
  }
});

/**
 * A logged-in session (127.0.0.1) whose STOR waits for data that never comes, with FLOOD STATs
 * sent at once beside it (out-of-band: each runs beside the transfer, held back by the budget).
 */
async function statsBesideStalledUpload(
  ts: TestServer,
  track: (c: RawFtp) => RawFtp,
): Promise<{ ftp: RawFtp; data: DataConnection; since: number }> {
  // From before the login: at this budget a quick login's own commands may be the first delayed
  // (the session's one 'commands delayed' line), with the hashes of the tests' cheap cost.
  const since = ts.logs.length;
  const ftp = await loginAs(ts, 'explicit', ts.user, track, ts.password);
  const data = await ftp.openData(await ftp.epsv(), { tls: true });
  await ftp.cmd('STOR stalled.bin', 150);
  data.stream.resume(); // TLS 1.3 session tickets
  ftp.send(
    Array.from({ length: FLOOD }, () => 'STAT\r\n')
      .join('')
      .slice(0, -2),
  );
  return { ftp, data, since };
}

describe('command budget: a flood of out-of-band commands during a transfer', () => {
  const server = useFerry({ limits: TINY, defender: { threshold: 10_000 } });

  // STAT and ABOR run beside a transfer, never queued: held back, the lines behind them wait in the
  // reader. Counted by the queue alone, such a flood was delayed for as long as the transfer lasted
  // and never scored.
  test('STATs pipelined beside a stalled upload are scored once they last a period', async () => {
    const ts = server();
    await withClients(async (track) => {
      const { data, since } = await statsBesideStalledUpload(ts, track);
      await floodScored(ts, LEGIT, since);
      data.raw.destroy();
    });
  });
});

describe('command budget: a session that ends with commands still unread', () => {
  // useFerry's after hook: nothing left running once the server has closed.
  const server = useFerry({ limits: TINY, defender: { threshold: 10_000 } });

  // The STOR's end, after the session's, took the lines still read ahead: each charged and waited
  // for (a timer each, at 20 a second for half a minute), for a session already gone.
  test('STATs held beside a stalled upload: the session ends, and so do their waits', async () => {
    const ts = server();
    await withClients(async (track) => {
      const { ftp, data, since } = await statsBesideStalledUpload(ts, track);
      await waitForLog(ts, (l) => l.msg.startsWith('commands delayed') && from(LEGIT)(l), since, 30_000);
      await ftp.close();
      await waitForLog(ts, (l) => l.msg === 'disconnect' && from(LEGIT)(l), since, 30_000);
      data.raw.destroy();
    });
  });
});
