import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../logger.js';
import { byAddress, leastBusy, WorkerSlot } from './worker-slot.js';

const slot = (name: string, active: number, ready = true) => ({ name, active, ready });

test('a connection goes to the ready worker with the fewest; ties to the first, every time', () => {
  const workers = [slot('w1', 2), slot('w2', 1), slot('w3', 1), slot('w4', 0, false)];
  assert.equal(leastBusy(workers)?.name, 'w2', 'fewest among the ready ones');
  // Sessions one after another (each closed before the next): always the same, warm worker.
  const idle = [slot('w1', 0), slot('w2', 0)];
  assert.deepEqual(
    [1, 2, 3, 4].map(() => leastBusy(idle)?.name),
    ['w1', 'w1', 'w1', 'w1'],
  );
  // Sessions at the same time spread: each one held raises its worker's count.
  const held = [slot('w1', 0), slot('w2', 0)];
  const picked = [1, 2, 3, 4].map(() => {
    const w = leastBusy(held);
    if (w) w.active++;
    return w?.name;
  });
  assert.deepEqual(picked, ['w1', 'w2', 'w1', 'w2']);
  assert.equal(leastBusy([slot('w1', 0, false)]), undefined, 'none ready');
});

test('by address: one address always reaches the same ready worker, whatever the load; addresses spread', () => {
  const workers = [slot('w1', 0), slot('w2', 0)];
  const first = byAddress(workers, '192.0.2.7')?.name;
  for (const w of workers) w.active = first === w.name ? 50 : 0;
  assert.equal(byAddress(workers, '192.0.2.7')?.name, first, 'busier, but the same');
  const names = new Set(Array.from({ length: 20 }, (_, i) => byAddress(workers, `10.0.0.${i}`)?.name));
  assert.deepEqual([...names].sort(), ['w1', 'w2']);
  // Its worker not ready (restarting): the least busy ready one.
  const down = workers.map((w) => ({ ...w, ready: w.name !== first }));
  assert.notEqual(byAddress(down, '192.0.2.7')?.name, first);
  assert.equal(byAddress([slot('w1', 0, false)], '192.0.2.7'), undefined, 'none ready');
});

test('a worker out of descriptors gets connections only when every ready one is', () => {
  const now = 1_000;
  const full = { name: 'w1', active: 0, ready: true, outOfFilesUntil: now + 1 };
  const busy = slot('w2', 5);
  assert.equal(leastBusy([full, busy], now)?.name, 'w2', 'busier, but it has room');
  assert.equal(leastBusy([full, slot('w2', 5, false)], now)?.name, 'w1', 'the only ready one');
  assert.equal(leastBusy([full, { ...busy, outOfFilesUntil: now + 1 }], now)?.name, 'w1', 'all full: fewest');
  assert.equal(leastBusy([{ ...full, outOfFilesUntil: now }, busy], now)?.name, 'w1', 'that was before');
});

test('a worker that stops on its own gets no new connection, whether it was replaced yet or not', () => {
  const stopping = { ...slot('w1', 0), draining: true };
  assert.equal(leastBusy([stopping, slot('w2', 5)])?.name, 'w2', 'idle, but stopping');
  assert.equal(leastBusy([stopping]), undefined, 'none but it');
  const workers = [slot('w1', 0), slot('w2', 0)];
  const mine = byAddress(workers, '192.0.2.7')?.name;
  const drained = workers.map((w) => ({ ...w, draining: w.name === mine }));
  assert.notEqual(byAddress(drained, '192.0.2.7')?.name, mine, "its address's worker stops: another");
});

/**
 * Whether a child has ended and can be reaped: a zombie with no thread left but its first (that one
 * alone is a zombie while Node's other threads still exit, and waitpid() does not report it yet).
 */
function ended(pid: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return /^State:\s+Z/m.test(status) && /^Threads:\s+1$/m.test(status);
}

test("a worker's last messages reach the primary before its exit does, also when they arrive after the process ended", async () => {
  // Node reaps every ended child at one SIGCHLD, after the I/O of that turn of its event loop: a
  // worker that sends and ends during that I/O is reaped (its 'exit') before what it sent is read.
  // Made certain here: another child writes and ends, and its output's handler waits for the worker
  // to send and end.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-slot-'));
  const go = path.join(dir, 'go');
  const worker = `
    const { existsSync } = require('node:fs');
    while (!existsSync(${JSON.stringify(go)}));
    process.send({ type: 'ferry:draining' }, () => process.exit(0));`;
  const events: string[] = [];
  let exited!: () => void;
  const done = new Promise<void>((resolve) => (exited = resolve));
  const slot = new WorkerSlot(1, {
    fork: () => spawn(process.execPath, ['-e', worker], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
    init: undefined,
    logger: silentLogger,
    message: (s, m) => events.push(`${m.type} from worker ${s.index}`),
    exit: () => {
      events.push('exit');
      exited();
    },
  });
  try {
    slot.start();
    const pid = slot.pid;
    assert.ok(pid !== undefined);
    const other = spawn(process.execPath, ['-e', "process.stdout.write('x')"], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    assert.ok(other.pid !== undefined);
    other.stdout.once('data', () => {
      writeFileSync(go, '');
      while (!ended(pid));
    });
    // Its output and its SIGCHLD both wait for the next turn.
    while (!ended(other.pid));
    await done;
    assert.deepEqual(events, ['ferry:draining from worker 1', 'exit']);
    assert.equal(slot.child, undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('answers reach their questions by id through one listener, however many wait; an exit fails the rest', async () => {
  // The worker answers the first 50 questions in reverse order, once it has all of them, and never
  // the 51st.
  const worker = `
    const asked = [];
    process.on('message', (m) => {
      if (m.type !== 'ferry:who-request') return;
      asked.push(m.id);
      if (asked.length === 50)
        for (const id of asked.reverse())
          process.send({ type: 'ferry:who', id, sessions: [{ id: 'asked as ' + id }] });
    });`;
  const slot = new WorkerSlot(1, {
    fork: () => spawn(process.execPath, ['-e', worker], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
    init: undefined,
    logger: silentLogger,
    message: () => {},
    exit: () => {},
  });
  slot.start();
  const child = slot.child;
  assert.ok(child);
  const listening = child.listenerCount('message');
  const closing = child.listenerCount('close');
  const ids: number[] = [];
  const answers = Array.from({ length: 50 }, () =>
    slot.ask((id) => (ids.push(id), { type: 'ferry:who-request', id }), 30_000),
  );
  assert.equal(child.listenerCount('message'), listening, 'no listener per question');
  assert.equal(child.listenerCount('close'), closing, 'nor a close listener per question');
  for (const [i, answer] of (await Promise.all(answers)).entries()) {
    assert.ok(typeof answer !== 'string' && answer.type === 'ferry:who', String(answer));
    assert.deepEqual(answer.sessions, [{ id: `asked as ${ids[i]}` }], 'its own answer');
  }
  const unanswered = slot.ask((id) => ({ type: 'ferry:who-request', id }), 30_000);
  child.kill();
  assert.equal(await unanswered, 'worker 1 exited');
  assert.equal(
    await slot.ask((id) => ({ type: 'ferry:who-request', id }), 30_000),
    'worker 1 is not running',
  );
});
