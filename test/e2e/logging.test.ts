/**
 * Issue 6, "logs as a weapon": the default log is what an administrator reads, repetitive
 * warnings are rate-limited per address, and a log output that cannot keep up does not grow the
 * server's memory.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { pipelined, spawnFerry } from '../support/ferry-process.js';
import { withDeadline } from '../support/raw-ftp.js';
import { loggedIn, randomData, startServer, waitForLog, withClients } from './harness.js';

const MiB = 1024 * 1024;

test('at the default level (info) the log has sessions, logins and transfers but no per-command lines', async () => {
  const lines: { msg: string; level: number }[] = [];
  let onLine = (): void => {};
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as (typeof lines)[0]);
      onLine();
      cb();
    },
  });
  const disconnected = new Promise<void>((resolve) => {
    onLine = () => {
      if (lines.some((l) => l.msg === 'disconnect')) resolve();
    };
  });
  const ts = await startServer({ logger: pino({ level: 'info' }, sink) });
  try {
    await withClients(async (track) => {
      const ftp = track(await loggedIn(ts, 'implicit'));
      await ftp.cmd('NOOP', 200);
      await ftp.cmd('PWD', 257);
      const [, done] = await ftp.store('a.bin', randomData(1000));
      assert.equal(done.code, 226);
      await ftp.quit();
    });
    await withDeadline(disconnected, 10_000, 'the disconnect line');
  } finally {
    await ts.close();
  }
  const msgs = lines.map((l) => l.msg);
  for (const m of ['connect', 'tls established', 'login', 'transfer', 'disconnect']) {
    assert.ok(msgs.includes(m), `"${m}" is logged at info: ${msgs.join(', ')}`);
  }
  assert.ok(!msgs.includes('command'), `no per-command lines at info: ${msgs.join(', ')}`);
});

test('repeated warnings from one address are rate-limited, then summarized in one line', async () => {
  const ts = await startServer();
  const probes = 20;
  try {
    // TCP probes of the implicit port: connect, then close before any TLS.
    for (let i = 0; i < probes; i++) {
      const s = net.connect(ts.implicitPort, ts.host);
      s.on('error', () => {});
      await once(s, 'connect');
      s.destroy();
    }
    const disconnects = (): number => ts.logs.filter((l) => l.msg === 'disconnect').length;
    await waitForLog(ts, () => disconnects() === probes);
    // A probe's handshake failure is logged by promise callbacks of the same event-loop turn as its
    // 'disconnect': one turn later, every warning has gone through the limiter.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    await ts.close(); // reports what is still suppressed
  }
  const failed = ts.logs.filter((l) => l.msg === 'control connection TLS handshake failed');
  assert.equal(failed.length, 5, 'the first 5 per address and minute are written');
  const summary = ts.logs.filter((l) => /^suppressed \d+ similar$/.test(l.msg));
  assert.equal(summary.length, 1);
  assert.deepEqual(summary[0]?.obj, {
    remote: '127.0.0.1',
    suppressed: probes - 5,
    warning: 'control connection TLS handshake failed',
  });
});

/** `count` HELP commands with a long argument (a ~4 KB debug line each), every reply read. */
function pipelineHelp(port: number, count: number): Promise<void> {
  return pipelined(port, Buffer.from(`HELP ${'x'.repeat(4000)}\r\n`), count, count);
}

test('a log output that never drains keeps the server bounded; dropped lines are reported', async (t) => {
  // Standard output is a pipe nobody reads until the end; every command is logged (debug).
  // The command budget off: 20,000 pipelined commands would otherwise wait 10 s for it.
  const ferry = await spawnFerry({
    args: ['--log-level', 'debug'],
    stdout: 'pipe',
    config: 'maxCommandRate: 0\n',
  });
  try {
    // Warm-up: more log than the 8 MiB output buffer holds, so it is full before the baseline.
    await pipelineHelp(ferry.implicitPort, 4000);
    const baseline = await ferry.rss();
    await pipelineHelp(ferry.implicitPort, 20_000); // about 80 MB of log lines
    const growth = (await ferry.rss()) - baseline;
    t.diagnostic(`server RSS growth: ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(growth < 24 * MiB, `server RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    // Read the output now: once it drains, the server says how many lines it dropped.
    const stdout = ferry.stdout;
    assert.ok(stdout);
    let tail = '';
    const reported = new Promise<void>((resolve) => {
      stdout.on('data', (d: Buffer) => {
        tail = (tail + d.toString()).slice(-8192);
        if (/"droppedLines":\d+/.test(tail)) resolve();
      });
    });
    await withDeadline(reported, 60_000, 'the dropped-lines report');
  } finally {
    ferry.stdout?.resume();
    await ferry.stop();
  }
});
