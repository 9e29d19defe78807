/**
 * Issue 6: a client that pipelines commands and never reads the replies must not grow the server.
 * The server runs as its own process so that its RSS can be read; the flood is bounded in time
 * (FLOOD_MS) and in size (it stops as soon as the server grew by GIVE_UP_BYTES), so a regression
 * fails quickly instead of exhausting the machine.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import net from 'node:net';
import tls from 'node:tls';
import { FerryClient } from '../../src/client/client.js';
import { pipelined, spawnFerry, type FerryProcess } from '../support/ferry-process.js';
import { withDeadline } from '../support/raw-ftp.js';
import { MODES, startServer, waitForLog } from './harness.js';

const MiB = 1024 * 1024;
const FLOOD_MS = 12_000;
const GIVE_UP_BYTES = 150 * MiB;
/**
 * The flood may grow the server this much beyond its RSS after a well-behaved client ran the same
 * number of commands (WARM_UP pairs, about what fills the kernel's socket buffers before the server
 * stops): that warm-up grows V8's heap to what running them takes, so what the flood adds is what
 * it keeps. Measured with the output bound: about 5 MiB for the flood alone, 15 MiB with the
 * concurrent login and transfer (data-path buffers); without the bound, +150 MiB within seconds.
 */
const ALLOWED_GROWTH = 24 * MiB;
const WARM_UP = 40_000; // HELP+NOOP pairs

let ferry: FerryProcess;
before(async () => {
  // What is measured is the bounds on what waits (queue, unsent replies), not the command budget,
  // which would hold the warm-up's 80,000 pipelined commands to a thousand a second (and score them).
  ferry = await spawnFerry({ config: 'maxCommandRate: 0\n' });
});
after(async () => {
  await ferry?.stop();
});

async function loginAndTransfer(f: FerryProcess, name: string): Promise<void> {
  const client = await FerryClient.connect({
    host: f.host,
    port: f.implicitPort,
    security: 'implicit',
    user: f.user,
    password: f.password,
    ca: f.ca,
  });
  try {
    const data = randomBytes(256 * 1024);
    await client.put(Readable.from([data]), name);
    const chunks: Buffer[] = [];
    await client.get(
      name,
      new Writable({
        write(c: Buffer, _e, cb) {
          chunks.push(c);
          cb();
        },
      }),
    );
    assert.ok(Buffer.concat(chunks).equals(data), 'the file came back unchanged');
  } finally {
    await client.close();
  }
}

/**
 * Implicit FTPS, never logged in: writes HELP and NOOP as fast as the server takes them and never
 * reads a reply. Returns the largest RSS growth seen (sampled every 200 ms).
 */
async function flood(f: FerryProcess, baseline: number): Promise<{ growth: number; closed: boolean }> {
  const sock = tls.connect({ host: f.host, port: f.implicitPort, rejectUnauthorized: false });
  sock.on('error', () => {});
  await once(sock, 'secureConnect');
  sock.pause(); // never read: replies pile up on the server's side
  let closed = false;
  sock.once('close', () => (closed = true));
  const chunk = Buffer.from('HELP\r\nNOOP\r\n'.repeat(5000));
  let growth = 0;
  const deadline = Date.now() + FLOOD_MS;
  const sampler = setInterval(() => {
    void f.rss().then((rss) => (growth = Math.max(growth, rss - baseline)));
  }, 200);
  try {
    while (Date.now() < deadline && growth < GIVE_UP_BYTES && !closed) {
      if (sock.write(chunk)) continue;
      // Wait for room, but never past the deadline (with the fix, the server stops reading).
      await roomOrTimeout(sock, Math.min(deadline - Date.now(), 200));
    }
    growth = Math.max(growth, (await f.rss()) - baseline);
    return { growth, closed };
  } finally {
    clearInterval(sampler);
    sock.destroy();
  }
}

/** Resolves on 'drain' or 'close' of `sock`, or after `ms`. */
function roomOrTimeout(sock: tls.TLSSocket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(ms, 0));
    sock.once('drain', done);
    sock.once('close', done);
  });
}

test('a client that pipelines HELP/NOOP without reading leaves the server its memory; others still work', async (t) => {
  await loginAndTransfer(ferry, 'warm-up.bin'); // the code paths a login and a transfer need
  // A well-behaved client first: the same commands, every reply read.
  await pipelined(
    ferry.implicitPort,
    Buffer.from('HELP\r\nNOOP\r\n'.repeat(1000)),
    WARM_UP / 1000,
    2 * WARM_UP,
  );
  const baseline = await ferry.rss();
  const flooding = flood(ferry, baseline);
  await loginAndTransfer(ferry, 'during.bin');
  const { growth } = await flooding;
  t.diagnostic(`server RSS growth while flooded: ${(growth / MiB).toFixed(1)} MiB`);
  assert.ok(
    growth < ALLOWED_GROWTH,
    `server RSS grew by ${(growth / MiB).toFixed(1)} MiB while flooded (allowed ${ALLOWED_GROWTH / MiB})`,
  );
  await loginAndTransfer(ferry, 'after.bin');
});

for (const mode of MODES) {
  test(`${mode}: a client that stops reading its replies is disconnected after timeouts.stalledOutputMs`, async () => {
    const ts = await startServer({ timeouts: { stalledOutputMs: 300 } });
    try {
      const sock =
        mode === 'implicit'
          ? tls.connect({ host: ts.host, port: ts.implicitPort, rejectUnauthorized: false })
          : net.connect({ host: ts.host, port: ts.explicitPort });
      sock.on('error', () => {});
      sock.pause();
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      // Sent once, not in a loop: more than enough replies to fill every buffer on the way.
      sock.end(Buffer.from('HELP\r\n'.repeat(64 * 1024)));
      // The server runs some 13,000 HELPs before the kernel's socket buffers are full: allow a slow machine.
      const line = await waitForLog(
        ts,
        (l) => l.msg === 'closing: the client has not read its replies',
        0,
        60_000,
      );
      assert.equal(line.level, 'warn');
      sock.resume(); // a paused socket would not notice the close
      await withDeadline(closed, 10_000, 'the connection to close');
    } finally {
      await ts.close();
    }
  });
}
