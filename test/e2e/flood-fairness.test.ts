/**
 * A client that pipelines thousands of cheap commands (NOOP completes without I/O) must not hold
 * the event loop until its whole buffered input is answered: other sessions, handshakes and
 * accepts wait meanwhile. Observed as ordering, not time: the server runs in this process, so the
 * flooder's first reply can reach it only once the server has let the event loop turn.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { socketClosed, waitEvent, withDeadline } from '../support/raw-ftp.js';
import { portOf, useFerry } from './harness.js';

const FLOOD = 2000;

/** Counts the replies received on `s` (one CRLF-ended line each) and who waits for how many. */
function replyCounter(s: net.Socket): { readonly chunks: number[]; until(n: number): Promise<void> } {
  const chunks: number[] = [];
  let total = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  s.on('data', (d: Buffer) => {
    const lines = d.toString('latin1').split('\r\n').length - 1;
    chunks.push(lines);
    total += lines;
    if (waiter && total >= waiter.n) waiter.resolve();
  });
  return {
    chunks,
    until: (n) =>
      total >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve })),
  };
}

describe('a pipelined command flood', () => {
  const server = useFerry();

  test('lets the event loop turn before its buffered commands are all answered', async () => {
    const s = net.connect({ host: '127.0.0.1', port: portOf(server(), 'explicit') });
    s.on('error', () => {});
    try {
      await waitEvent(s, 'connect');
      const replies = replyCounter(s);
      await withDeadline(replies.until(1), 10_000, 'the greeting');
      s.write('NOOP\r\n'.repeat(FLOOD));
      await withDeadline(replies.until(1 + FLOOD), 30_000, 'every NOOP answered');
      // The greeting was a chunk of its own; the first chunk after it holds what the server
      // answered before the loop turned (before: all 2000 of one socket read).
      const firstBatch = replies.chunks[1] ?? 0;
      assert.ok(firstBatch < FLOOD / 4, `first chunk held ${firstBatch} of ${FLOOD} replies`);
    } finally {
      s.destroy();
      await socketClosed(s);
    }
  });
});
