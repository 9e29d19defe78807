/**
 * `ferry serve --workers 2`: a worker stopping on its own (SIGTERM to it alone) while its
 * replacement serves the new clients.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { implicitSession, ServeProcess, type LogLine } from '../support/ferry-process.js';
import type { Reply } from '../../src/protocol/reply.js';
import { textOf, type RawFtp } from '../support/raw-ftp.js';
import { testHash } from '../support/test-hashes.js';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-draining-'));
  root = path.join(dir, 'root');
  await mkdir(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A config of these users (password pw-NAME) whose running transfers a stop does not cut. */
async function config(names: readonly string[]): Promise<string> {
  const users = await Promise.all(
    names.map(
      async (n) => `  - name: ${n}\n    passwordHash: ${await testHash(`pw-${n}`)}\n    home: ${root}\n`,
    ),
  );
  return `stopGraceSeconds: 300\nusers:\n${users.join('')}`;
}

/** A log line from index `from` on. */
const since =
  (r: ServeProcess, from: number, match: (l: LogLine) => boolean) =>
  (l: LogLine): boolean =>
    r.log.indexOf(l) >= from && match(l);

/** SIGTERM to worker `pid`, once the primary has heard that it stops. */
async function drain(r: ServeProcess, pid: number): Promise<void> {
  const from = r.log.length;
  process.kill(pid, 'SIGTERM');
  await r.waitForLog(
    since(r, from, (l) => l.msg?.startsWith('worker stopping') === true && l.workerPid === pid),
    'the primary told that the worker stops',
  );
}

/** The replies up to the first 421, which is returned. */
async function until421(ftp: RawFtp): Promise<Reply> {
  for (;;) {
    const r = await ftp.expect();
    if (r.code === 421) return r;
  }
}

test('--workers 2: a SIGHUP that removes a user reaches a stopping worker: that user’s upload there ends with 421 Account no longer available', async () => {
  const file = path.join(dir, 'removed.yaml');
  await writeFile(file, await config(['zed', 'amy']));
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', file, '--data-dir', path.join(dir, 'd1')],
    root,
  );
  const uploader = await implicitSession(r, 'zed');
  try {
    const stopping = await r.pidOfLogin('zed');
    const conn = await uploader.openData(await uploader.epsv(), { tls: true });
    conn.stream.resume();
    await uploader.cmd('STOR slow.bin', 150);
    await new Promise<void>((resolve, reject) =>
      conn.stream.write(Buffer.alloc(64 * 1024, 1), (e) => (e ? reject(e) : resolve())),
    );
    await drain(r, stopping);

    await writeFile(file, await config(['amy']));
    const from = r.log.length;
    r.child.kill('SIGHUP');
    await r.waitForLog(
      since(r, from, (l) => l.worker === undefined && l.msg === 'configuration reloaded'),
      'the reload done',
    );
    // The upload ends now: without the reload, it would complete (226) and only the stop's 421 follow.
    conn.stream.end();
    assert.match(textOf(await until421(uploader)), /Account no longer available/);
    assert.ok(
      !r.log.slice(from).some((l) => l.msg === 'a worker could not reload its configuration'),
      'every worker reloaded',
    );
  } finally {
    await uploader.close();
    assert.equal(await r.stop(), 0);
  }
});

test('--workers 2: SIGTERM to one worker tells its idle sessions that their worker restarts and the server stays up', async () => {
  const file = path.join(dir, 'idle.yaml');
  await writeFile(file, await config(['zed']));
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', file, '--data-dir', path.join(dir, 'd2')],
    root,
  );
  const idle = await implicitSession(r, 'zed');
  try {
    const told = idle.expect(421);
    process.kill(await r.pidOfLogin('zed'), 'SIGTERM');
    const text = textOf(await told);
    assert.match(text, /worker process is restarting/i);
    assert.match(text, /reconnect/i);
    // Only the primary's stop says the server shuts down.
    assert.doesNotMatch(text, /shutting down/i);
  } finally {
    await idle.close();
    assert.equal(await r.stop(), 0);
  }
});

test('--workers 2: the primary logs how many sessions a worker that died held, and the delay before its restart', async () => {
  const file = path.join(dir, 'died.yaml');
  await writeFile(file, await config(['a', 'b', 'c']));
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', file, '--data-dir', path.join(dir, 'd3')],
    root,
  );
  const held: RawFtp[] = [];
  try {
    // One after the other: the first worker, the idle second, the first again (a tie).
    for (const u of ['a', 'b', 'c']) held.push(await implicitSession(r, u));
    const pids = await Promise.all(['a', 'b', 'c'].map((u) => r.pidOfLogin(u)));
    const victim = pids.find((p) => pids.filter((q) => q === p).length === 2);
    assert.ok(victim !== undefined, `sessions served by ${pids.join(', ')}`);
    const from = r.log.length;
    process.kill(victim, 'SIGKILL');
    const exited = await r.waitForLog(
      since(r, from, (l) => l.msg === 'worker exited; restarting it'),
      'the worker restarted',
    );
    assert.equal(exited.sessions, 2);
    assert.equal(typeof exited.restartDelayMs, 'number');
  } finally {
    for (const s of held) await s.close();
    assert.equal(await r.stop(), 0);
  }
});
