/**
 * A control connection that keepalive finds dead (ETIMEDOUT) while a transfer runs: the transfer
 * goes on to its end over its own data connection, then the session ends. Node probes every 1 s,
 * 10 times, so ~11 s of a silent control path (a NAT or a link down for a while) was enough to cut
 * a long download. The control connection's packets are dropped with nftables (root only).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TestServer } from '../support/ferry.js';
import type { RawFtp } from '../support/raw-ftp.js';
import {
  assertSameBytes,
  checkLeaksAfterAll,
  loggedIn,
  randomData,
  waitForLog,
  withClients,
  withServer,
} from './harness.js';

/** More than the socket buffers on loopback hold: the download is still running when the control path dies. */
const FILE_BYTES = 48 * 1024 * 1024;
/** ETIMEDOUT comes ~11 s after the path goes silent (first probe after 1 s, then 10 at 1 s). */
const WAIT_MS = 40_000;
const KEEPALIVE_1S = { timeouts: { keepaliveMs: 1_000 } };

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (drops packets with nftables)';
  const r = spawnSync('nft', ['list', 'tables'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'nft is missing or not permitted here';
}

/** Drops every loopback packet to or from `port` (the control connection's client port); returns the undo. */
function blackHole(port: number): () => void {
  const table = `ferry_keepalive_${process.pid}_${port}`; // one per test: they run at once
  const rules = [
    `table inet ${table} {`,
    `  chain out { type filter hook output priority 0; policy accept;`,
    `    tcp sport ${port} drop; tcp dport ${port} drop; }`,
    `}`,
  ].join('\n');
  execFileSync('nft', ['-f', '-'], { input: rules });
  return () => execFileSync('nft', ['delete', 'table', 'inet', table]);
}

/**
 * A logged-in client starts a download, reads none of it, and its control path goes silent until
 * the server logs that the connection was lost (or, without the fix, that it disconnected).
 */
async function loseControlDuringDownload(ts: TestServer, track: (c: RawFtp) => RawFtp) {
  const body = randomData(FILE_BYTES);
  await writeFile(path.join(ts.root, 'big.bin'), body);
  return { body, ...(await loseControlDuring(ts, track, 'RETR big.bin')) };
}

/** `line` (a transfer command) started with its data connection open; then the control path dies. */
async function loseControlDuring(ts: TestServer, track: (c: RawFtp) => RawFtp, line: string) {
  const ftp = track(await loggedIn(ts, 'explicit'));
  await ftp.cmd('TYPE I', 200);
  const from = ts.logs.length;
  const conn = await ftp.openData(await ftp.epsv(), { tls: true });
  await ftp.cmd(line, 150);
  const restore = blackHole(ftp.socket.localPort ?? 0);
  try {
    const lost = (msg: string): boolean => msg.startsWith('control connection lost (keepalive timeout)');
    const first = await waitForLog(ts, (l) => lost(l.msg) || l.msg === 'disconnect', from, WAIT_MS);
    assert.ok(lost(first.msg), 'the session ended at once, its transfer cut');
    assert.equal(first.level, 'warn');
  } finally {
    restore();
  }
  return { conn, ftp, from };
}

// At once: each test mostly waits out the ~11 s keepalive takes to find its control path dead (they
// took 38 s one after the other). The leak check comes once all three servers are closed.
describe('control connection lost to keepalive', { timeout: 120_000, concurrency: true }, () => {
  checkLeaksAfterAll();

  test(
    "the server's destroy() cuts such a transfer at once, and close() then ends without leaks",
    { skip: skipReason() },
    async () => {
      await withServer(KEEPALIVE_1S, async (ts) => {
        await withClients(async (track) => {
          const { conn, ftp, from } = await loseControlDuringDownload(ts, track);
          ts.server.destroy();
          const done = await waitForLog(ts, (l) => l.msg === 'transfer', from);
          assert.equal((done.obj as { reply?: number }).reply, 426);
          const got = await ftp.readAll(conn, WAIT_MS);
          assert.ok(got.length < FILE_BYTES, 'the download was cut');
        });
      });
    },
  );

  test(
    'a download runs to its end when keepalive finds the control path dead, then the session ends',
    { skip: skipReason() },
    async () => {
      await withServer(KEEPALIVE_1S, async (ts) => {
        await withClients(async (track) => {
          const { body, conn, ftp, from } = await loseControlDuringDownload(ts, track);
          // Read to the server's close_notify: every byte came.
          assertSameBytes(await ftp.readAll(conn, WAIT_MS), body, 'downloaded');
          const done = await waitForLog(ts, (l) => l.msg === 'transfer', from);
          assert.equal((done.obj as { reply?: number }).reply, 226);
          const ended = await waitForLog(ts, (l) => l.msg === 'disconnect', from);
          assert.ok(ts.logs.indexOf(ended) > ts.logs.indexOf(done), 'the session ended after the transfer');
        });
      });
    },
  );

  test(
    'an upload goes on too and is stored once the client closes it cleanly',
    { skip: skipReason() },
    async () => {
      const body = randomData(4 * 1024 * 1024);
      await withServer(KEEPALIVE_1S, async (ts) => {
        await withClients(async (track) => {
          const { conn, ftp, from } = await loseControlDuring(ts, track, 'STOR up.bin');
          await ftp.uploadClean(conn, body);
          const done = await waitForLog(ts, (l) => l.msg === 'transfer', from);
          assert.equal((done.obj as { reply?: number }).reply, 226);
          assertSameBytes(await readFile(path.join(ts.root, 'up.bin')), body, 'stored');
        });
      });
    },
  );
});
