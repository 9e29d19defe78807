/**
 * QUIT pipelined behind other commands during a transfer (curl sends PASV and QUIT after a RETR
 * whose data connection failed): the transfer's reply, then the replies to every command sent
 * before QUIT, in order and inside TLS, then 221, close_notify and FIN; nothing after them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { TestServer } from '../support/ferry.js';
import { RawFtp, waitEvent, withDeadline, type DataConnection } from '../support/raw-ftp.js';
import { clearAfterTls, loggedIn, MODES, textOf, useFerry, withClients, type Mode } from './harness.js';

/** Far more than the socket buffers hold: the RETR stalls until the client reads. */
const BIG = 50 * 1024 * 1024;
const EVENT_MS = 10_000;

async function writeBig(ts: TestServer): Promise<void> {
  const block = Buffer.alloc(1024 * 1024, 'quit-order ');
  await writeFile(
    path.join(ts.root, 'big.bin'),
    Buffer.concat(Array<Buffer>(BIG / block.length).fill(block)),
  );
}

/** A binary RETR of big.bin, stalled after its first bytes (the client stops reading). */
async function stalledRetr(ftp: RawFtp): Promise<DataConnection> {
  await ftp.cmd('TYPE I', 200);
  const conn = await ftp.openData(await ftp.epsv(), { tls: ftp.dataTls });
  await ftp.cmd('RETR big.bin', 150);
  const got = waitEvent(conn.stream, 'data');
  conn.stream.resume();
  await got;
  conn.stream.pause();
  return conn;
}

/** The replies up to and including 221, as `code text`. */
async function repliesThroughQuit(ftp: RawFtp): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const r = await ftp.expect();
    seen.push(`${r.code} ${textOf(r)}`);
    if (r.code === 221) return seen;
  }
}

/**
 * Sends `pipeline` in one write during a stalled RETR, then lets the RETR finish; asserts the
 * replies to the end, then close_notify and FIN, and that every byte after AUTH was TLS.
 */
async function quitBehind(
  ftp: RawFtp,
  mode: Mode,
  pipeline: readonly string[],
  atOnce: readonly string[],
): Promise<string[]> {
  const conn = await stalledRetr(ftp);
  const fin = once(ftp.socket, 'end');
  ftp.send(Buffer.from(pipeline.map((l) => `${l}\r\n`).join('')));
  // Out-of-band replies (STAT) come while the transfer is stalled: the pipeline was read during it.
  for (const code of atOnce) assert.match(textOf(await ftp.expect(Number(code))), /.+/);
  await ftp.readAll(conn);
  const seen = await repliesThroughQuit(ftp);
  await withDeadline(ftp.peerEndedTls, EVENT_MS, "the server's close_notify after the 221");
  await withDeadline(fin, EVENT_MS, "the server's FIN after the 221");
  await withDeadline(ftp.closed, EVENT_MS, 'the control connection to close');
  assert.equal(clearAfterTls(ftp, mode), '', 'bytes outside TLS on the control connection');
  assert.ok(ftp.noPendingReplies, `nothing after the 221\n${ftp.dump()}`);
  return seen;
}

for (const mode of MODES) {
  describe(`${mode}: QUIT pipelined behind other commands during a transfer`, { timeout: 120_000 }, () => {
    const server = useFerry();
    before(() => writeBig(server()));

    test('NOOP then QUIT in one write: 226, 200, 221, all inside TLS, then close_notify', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const seen = await quitBehind(ftp, mode, ['NOOP', 'QUIT'], []);
        assert.deepEqual(
          seen.map((s) => s.slice(0, 3)),
          ['226', '200', '221'],
          seen.join('\n'),
        );
      });
    });

    test('NOOP, STAT, PWD, QUIT in one write: STAT at once, then 226, 200, 257, 221', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const seen = await quitBehind(ftp, mode, ['NOOP', 'STAT', 'PWD', 'QUIT'], ['211']);
        assert.deepEqual(
          seen.map((s) => s.slice(0, 3)),
          ['226', '200', '257', '221'],
          seen.join('\n'),
        );
        assert.equal(seen[2], '257 "/" is the current directory.');
      });
    });

    test('PASV then QUIT in one write (curl after a failed data connection): 226, 227, 221', async () => {
      await withClients(async (track) => {
        const ftp = track(await loggedIn(server(), mode));
        const seen = await quitBehind(ftp, mode, ['PASV', 'QUIT'], []);
        assert.deepEqual(
          seen.map((s) => s.slice(0, 3)),
          ['226', '227', '221'],
          seen.join('\n'),
        );
      });
    });
  });
}

describe(
  'plain session: QUIT pipelined behind other commands during a transfer',
  { timeout: 120_000 },
  () => {
    const server = useFerry({ allowPlainControl: true, allowClearData: true });
    before(() => writeBig(server()));

    test('NOOP, PWD, QUIT in one write: 226, 200, 257, 221, then FIN', async () => {
      const ts = server();
      await withClients(async (track) => {
        const ftp = track(await RawFtp.connect({ host: ts.host, port: ts.explicitPort, implicit: false }));
        await ftp.expect(220);
        await ftp.login(ts.user, ts.password);
        ftp.dataTls = false;
        const conn = await stalledRetr(ftp);
        ftp.send(Buffer.from('NOOP\r\nPWD\r\nQUIT\r\n'));
        await ftp.readAll(conn);
        const seen = await repliesThroughQuit(ftp);
        assert.deepEqual(
          seen.map((s) => s.slice(0, 3)),
          ['226', '200', '257', '221'],
          seen.join('\n'),
        );
        await withDeadline(ftp.closed, EVENT_MS, 'the control connection to close');
        assert.ok(ftp.noPendingReplies, `nothing after the 221\n${ftp.dump()}`);
      });
    });
  },
);
