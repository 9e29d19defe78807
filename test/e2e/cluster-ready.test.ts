/**
 * Readiness of a cluster (`ferry serve --workers N`, /readyz): a primary whose workers all died
 * and whose replacements are not ready yet is not serving (connections would be turned away); a
 * worker that stops answering (SIGSTOP, a stuck event loop) is handed no new connection, and once
 * none answers the cluster is not serving, until they answer again.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'node:test';
import { testPrimary } from '../support/cluster-primary.js';

test('a cluster whose workers all died is not serving until a replacement is ready', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cluster-ready-'));
  // The first two workers serve; their replacements never say they are ready.
  const serving: ChildProcess[] = [];
  const stuck: ChildProcess[] = [];
  const p = await testPrimary(
    dir,
    () => {},
    (real) => {
      if (serving.length < 2) {
        const child = real();
        serving.push(child);
        return child;
      }
      const child = spawn(process.execPath, ['-e', 'process.on("message", () => {})'], {
        stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      });
      stuck.push(child);
      return child;
    },
  );
  try {
    await p.listen();
    assert.equal(p.serving, true, 'both workers ready');
    // The primary's own exit handler runs first (it was added at fork): then ours.
    const [first, second] = serving;
    assert.ok(first && second, 'two workers forked');
    first.kill('SIGKILL');
    await once(first, 'exit');
    assert.equal(p.serving, true, 'one worker still serves');
    second.kill('SIGKILL');
    await once(second, 'exit');
    assert.equal(p.accepting, true, 'the listeners still accept');
    assert.equal(p.serving, false, 'no worker ready: not serving');
  } finally {
    p.destroy();
    for (const c of stuck) if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    await rm(dir, { recursive: true, force: true });
  }
});

test('a worker that stops answering is passed over; none answering: not serving; answering again: back', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cluster-heartbeat-'));
  const workers: ChildProcess[] = [];
  const seen: string[] = [];
  const waiting: { msg: string; count: number; resolve: () => void }[] = [];
  const onLog = (msg: string): void => {
    seen.push(msg);
    for (const w of waiting.splice(0)) {
      if (seen.filter((m) => m === w.msg).length >= w.count) w.resolve();
      else waiting.push(w);
    }
  };
  /** Resolves once `msg` has been logged `count` times in all. */
  const logged = (msg: string, count: number): Promise<void> =>
    new Promise((resolve) => {
      if (seen.filter((m) => m === msg).length >= count) resolve();
      else waiting.push({ msg, count, resolve });
    });
  const p = await testPrimary(
    dir,
    onLog,
    (real) => {
      const child = real();
      workers.push(child);
      return child;
    },
    undefined,
    // Passed over after 3 silent beats: 1.5 s, beyond a loaded machine's pauses (at 50 ms, a 150 ms
    // pause of this process, the pongs waiting unread, marked both healthy workers).
    { heartbeatMs: 500 },
  );
  try {
    const port = (await p.listen()).implicit?.port;
    assert.ok(port);
    const [first, second] = workers;
    assert.ok(first && second, 'two workers forked');
    first.kill('SIGSTOP');
    await logged('worker not answering: no new connections handed to it', 1);
    assert.equal(p.serving, true, 'the other worker answers');
    // Handed to the stopped worker (the first of two idle ones), these would hang.
    for (let i = 0; i < 3; i++) assert.equal(await greeting(port), '220');
    second.kill('SIGSTOP');
    await logged('worker not answering: no new connections handed to it', 2);
    assert.equal(p.serving, false, 'no worker answers: not serving');
    first.kill('SIGCONT');
    second.kill('SIGCONT');
    await logged('worker answering again', 2);
    assert.equal(p.serving, true);
  } finally {
    for (const w of workers) w.kill('SIGCONT');
    p.destroy();
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) await once(w, 'exit');
    await rm(dir, { recursive: true, force: true });
  }
});

/** The first three characters of the greeting an implicit-FTPS connection gets. */
async function greeting(port: number): Promise<string> {
  const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  try {
    const [data] = (await once(s, 'data')) as [Buffer];
    return data.toString('latin1').slice(0, 3);
  } finally {
    s.destroy();
  }
}
