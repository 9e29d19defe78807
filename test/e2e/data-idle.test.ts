/**
 * The data idle timeout (timeouts.dataIdleMs): a transfer that makes no progress either way for
 * that long is cut (426), and the log says why. A download whose client stops reading used to
 * run for twice the timeout: net.Socket's timer skipped its first expiry because the kernel still
 * took a few bytes of the blocked write.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { writeAll, type DataConnection, type RawFtp } from '../support/raw-ftp.js';
import type { TestServer } from '../support/ferry.js';
import {
  checkLeaksAfterAll,
  connectSecure,
  randomData,
  textOf,
  waitForLog,
  withClients,
  withServer,
  type LogLine,
} from './harness.js';

const IDLE_MS = 2_000;
/** More than the client's and the server's socket buffers can hold on loopback. */
const FILE_BYTES = 48 * 1024 * 1024;
const READ_BYTES = 1024 * 1024;

/** Reads `bytes` of the data connection, then stops reading (the connection stays open). */
function readThenStall(conn: DataConnection, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got < bytes) return;
      conn.stream.pause();
      conn.stream.off('data', onData);
      resolve();
    };
    conn.stream.on('data', onData);
    conn.stream.resume();
  });
}

/**
 * The 426 within a generous deadline, saying it was the idle timeout, and the log line that says
 * why, its idle time checked: `times` the timeout (2 for a download waiting on a full kernel send
 * buffer, which a slow link also fills), a quarter of it late at most; the transfer's warning
 * names the idle timeout too, not the broken stream it left ('Premature close'). The reply states
 * the limit as configured (a download's doubled one says so), not a number the config contradicts.
 */
async function assertCutForIdleness(
  ftp: RawFtp,
  logs: Promise<LogLine>,
  stalledAt: number,
  times: number,
  failed: Promise<LogLine>,
): Promise<void> {
  const r = await ftp.expect(undefined, 8 * IDLE_MS);
  assert.equal(r.code, 426, textOf(r));
  const why =
    times === 2
      ? `${(2 * IDLE_MS) / 1000} s (twice the ${IDLE_MS / 1000} s data timeout, for a download)`
      : `${IDLE_MS / 1000} s (the data timeout)`;
  assert.equal(textOf(r), `Data connection idle for ${why}; transfer aborted.`);
  assert.equal(String(((await failed).obj as { err?: unknown }).err), `data connection idle for ${why}`);
  assert.ok(Date.now() - stalledAt >= times * IDLE_MS, 'cut before the idle timeout');
  const line = await logs;
  const { idleMs } = line.obj as { idleMs: number };
  assert.match(line.msg, /^data connection idle for \d+ s/);
  // Cut at its expiry (plus scheduling), not at a later one.
  assert.ok(idleMs >= times * IDLE_MS && idleMs < (times + 1) * IDLE_MS, `idle for ${idleMs} ms`);
}

// At once, each with a server of its own: the tests mostly wait out the idle time (22 s one after
// the other), and each reads only its own sessions' log lines (the slow link's test: none cut).
describe('data idle timeout', { timeout: 60_000, concurrency: true }, () => {
  checkLeaksAfterAll();
  const IDLE = { timeouts: { dataIdleMs: IDLE_MS }, allowClearData: true };

  const transferFailed = (ts: TestServer, from: number): Promise<LogLine> =>
    waitForLog(ts, (l) => l.msg === 'transfer failed', from, 8 * IDLE_MS);

  async function session(ts: TestServer, track: (c: RawFtp) => RawFtp, clear: boolean): Promise<RawFtp> {
    const ftp = track(await connectSecure(ts, 'explicit'));
    await ftp.login(ts.user, ts.password);
    await ftp.cmd('PBSZ 0', 200);
    await ftp.cmd(clear ? 'PROT C' : 'PROT P', 200);
    await ftp.cmd('TYPE I', 200);
    ftp.dataTls = !clear;
    return ftp;
  }

  for (const clear of [false, true]) {
    const over = clear ? 'in clear' : 'over TLS';
    test(`a download whose client stops reading gets 426 after the idle time, logged (${over})`, async () => {
      await withServer(IDLE, async (ts) => {
        await writeFile(path.join(ts.root, 'big.bin'), randomData(FILE_BYTES));
        await withClients(async (track) => {
          const ftp = await session(ts, track, clear);
          const from = ts.logs.length;
          const logs = waitForLog(ts, (l) => l.msg.startsWith('data connection idle'), from, 8 * IDLE_MS);
          const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
          await ftp.cmd('RETR big.bin', 150);
          await readThenStall(conn, READ_BYTES);
          await assertCutForIdleness(ftp, logs, Date.now(), 2, transferFailed(ts, from));
        });
      });
    });
  }

  test('a download that still moves, in steps longer than the idle time (a slow link), is not cut', async () => {
    // On a slow link the kernel takes more of a download only once a large part of its send buffer
    // has gone out: the server sees no progress for a while although the transfer moves. Here the
    // client reads 4 MiB at a time with pauses of 1.25x the timeout (a wait on a full send buffer
    // gets twice the timeout).
    const bytes = 16 * 1024 * 1024;
    await withServer(IDLE, async (ts) => {
      await writeFile(path.join(ts.root, 'slow.bin'), randomData(bytes));
      await withClients(async (track) => {
        const ftp = await session(ts, track, false);
        const from = ts.logs.length;
        const conn = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd('RETR slow.bin', 150);
        for (let step = 0; step < 3; step++) {
          await readThenStall(conn, 4 * 1024 * 1024);
          await new Promise((resolve) => setTimeout(resolve, 1.25 * IDLE_MS)); // the slow link's pace
        }
        const all = await ftp.readAll(conn);
        const idle = ts.logs.slice(from).filter((l) => l.msg.startsWith('data connection idle'));
        assert.deepEqual(idle, [], 'cut for idleness');
        assert.equal(all.length, bytes);
        assert.equal((await ftp.expect()).code, 226);
      });
    });
  });

  test('an upload whose client stops sending gets 426 after the idle time, logged (over TLS)', async () => {
    await withServer(IDLE, async (ts) => {
      await withClients(async (track) => {
        const ftp = await session(ts, track, false);
        const from = ts.logs.length;
        const logs = waitForLog(ts, (l) => l.msg.startsWith('data connection idle'), from, 8 * IDLE_MS);
        const conn = await ftp.openData(await ftp.epsv(), { tls: true });
        await ftp.cmd('STOR stalled.bin', 150);
        conn.stream.resume(); // TLS 1.3 session tickets
        await writeAll(conn.stream, randomData(READ_BYTES));
        await assertCutForIdleness(ftp, logs, Date.now(), 1, transferFailed(ts, from));
      });
    });
  });
});
