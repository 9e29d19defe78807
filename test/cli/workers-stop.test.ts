import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SessionsReport } from '../../src/server/session-report.js';
import { RawFtp } from '../support/raw-ftp.js';
import { implicitSession, ServeProcess, type LogLine } from '../support/ferry-process.js';
import { freePort } from '../support/ports.js';
import { descendants } from '../support/proc.js';

const USERS = ['a', 'b', 'c', 'd', 'e', 'f'].flatMap((u) => ['--user', `${u}:pw-${u}`]);

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-workers-stop-'));
  root = path.join(dir, 'root');
  await mkdir(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A log line from index `from` on. */
const since =
  (r: ServeProcess, from: number, match: (l: LogLine) => boolean) =>
  (l: LogLine): boolean =>
    r.log.indexOf(l) >= from && match(l);

test('--workers 2: SIGTERM to one worker mid-upload: new clients are served by the others (not refused), the upload ends with 226, and the worker is replaced', async () => {
  const config = path.join(dir, 'grace.yaml');
  await writeFile(config, 'stopGraceSeconds: 300\n'); // the upload must not be cut while the test runs
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', path.join(dir, 'd1'), ...USERS],
    root,
  );
  const held: RawFtp[] = [];
  const uploader = await implicitSession(r, 'a');
  try {
    const originals = r.workerPids;
    const stopping = await r.pidOfLogin('a');
    const conn = await uploader.openData(await uploader.epsv(), { tls: true });
    conn.stream.resume();
    await uploader.cmd('STOR slow.bin', 150);
    const first = Buffer.alloc(64 * 1024, 1);
    await new Promise<void>((resolve, reject) =>
      conn.stream.write(first, (e) => (e ? reject(e) : resolve())),
    );

    const from = r.log.length;
    process.kill(stopping, 'SIGTERM');
    await r.waitForLog(
      since(r, from, (l) => l.msg?.startsWith('worker stopping') === true && l.workerPid === stopping),
      'the primary told that the worker stops',
    );
    // Held open, one after the other: the stopping worker, with the fewest sessions, would be
    // picked for some of them if it were still a candidate.
    const users = ['b', 'c', 'd', 'e'];
    for (const u of users) held.push(await implicitSession(r, u));
    const served = await Promise.all(users.map((u) => r.pidOfLogin(u)));
    assert.ok(!served.includes(stopping), `new sessions served by ${served.join(', ')}, not ${stopping}`);
    assert.ok(
      !r.log.slice(from).some((l) => l.msg?.startsWith('connection refused') === true),
      'no connection refused',
    );

    // The stopping worker's transfer finishes.
    const rest = Buffer.alloc(64 * 1024, 2);
    await uploader.uploadClean(conn, rest);
    await uploader.expect(226);
    assert.deepEqual(await readFile(path.join(root, 'slow.bin')), Buffer.concat([first, rest]));
    const exited = await r.waitForLog(
      since(r, from, (l) => l.msg === 'stopped worker exited'),
      'the stopped worker to exit',
    );
    assert.equal(exited.code, 0);
    // Its replacement was started at once (no 'restarting it' crash line).
    const ready = await r.waitForLog(
      since(r, from, (l) => l.msg === 'worker ready' && !originals.includes(Number(l.workerPid))),
      'the replacement ready',
    );
    assert.equal(
      ready.worker,
      r.log.find((l) => l.workerPid === stopping && l.msg === 'worker ready')?.worker,
    );
    assert.ok(!r.log.slice(from).some((l) => l.msg === 'worker exited; restarting it'));
    // No other process forked meanwhile (a second replacement, never handed anything): the
    // primary's children are the worker that did not stop and the replacement.
    const kept = originals.filter((p) => p !== stopping);
    const pid = r.child.pid ?? 0;
    const children = descendants(pid).filter((p) => p.ppid === pid);
    assert.deepEqual(children.map((p) => p.pid).sort(), [...kept, Number(ready.workerPid)].sort());
  } finally {
    for (const s of held) await s.close();
    await uploader.close();
    assert.equal(await r.stop(), 0);
  }
});

/** Every series of a Prometheus text exposition whose metric is a counter or a histogram. */
function counts(text: string): Map<string, number> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1] ?? '', m[2] ?? '');
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const name = m[1] ?? '';
    const base = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const type = types.get(base);
    // Labels sorted: the aggregation may name them in another order from one scrape to the next.
    const labels = (m[2] ?? '')
      .replace(/^\{|\}$/g, '')
      .split(/,(?=\w+=")/)
      .sort()
      .join(',');
    if (type === 'counter' || type === 'histogram') series.set(`${name}{${labels}}`, Number(m[3]));
  }
  return series;
}

/** Every counter and histogram series of `before` is in `now`, not lower. */
function assertNoneBack(before: Map<string, number>, now: Map<string, number>, when: string): void {
  for (const [series, value] of before) {
    const later = now.get(series);
    assert.ok(later !== undefined && later >= value, `${when}: ${series} went from ${value} to ${later}`);
  }
}

test('--workers 2: /metrics counters never go back when a worker is killed (its last scraped counts stay) or stops (its final counts are added); its gauges go', async () => {
  const r = await ServeProcess.start(
    ['--workers', '2', '--admin-listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd2'), ...USERS],
    root,
  );
  const held: RawFtp[] = [];
  try {
    const admin = /admin\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(r.banner)?.[1];
    assert.ok(admin, r.banner);
    const scrape = async (): Promise<string> => (await fetch(`${admin}/metrics`)).text();
    const value = (text: string, series: string): number =>
      Number(new RegExp(`^${series} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const logins = 'ferry_logins_total\\{result="success"\\}';
    const sessions = 'ferry_sessions\\{mode="implicit"\\}';

    // One session in each worker, each with a transfer.
    for (const u of ['a', 'b']) {
      const s = await implicitSession(r, u);
      held.push(s);
      await s.listing('NLST');
    }
    const [pa, pb] = [await r.pidOfLogin('a'), await r.pidOfLogin('b')];
    assert.notEqual(pa, pb);
    const first = await scrape();
    assert.equal(value(first, logins), 2, first);
    assert.equal(value(first, sessions), 2, first);

    // kill -9: its counts as last scraped stay; its open session is no longer counted.
    let from = r.log.length;
    process.kill(pa, 'SIGKILL');
    await r.waitForLog(
      since(r, from, (l) => l.msg === 'worker ready' && ![pa, pb].includes(Number(l.workerPid))),
      'the replacement of the killed worker',
    );
    const second = await scrape();
    assertNoneBack(counts(first), counts(second), 'after kill -9');
    assert.equal(value(second, logins), 2, second);
    assert.equal(value(second, sessions), 1, second);

    // A login no scrape has seen, then SIGTERM to its worker: its final counts reach the primary.
    const c = await implicitSession(r, 'c');
    const pc = await r.pidOfLogin('c');
    assert.notEqual(pc, pb, 'the new worker, holding no session, gets it');
    const told = c.expect(421);
    from = r.log.length;
    process.kill(pc, 'SIGTERM');
    await told;
    await c.close();
    await r.waitForLog(
      since(r, from, (l) => l.msg === 'stopped worker exited'),
      'the stopped worker to exit',
    );
    const third = await scrape();
    assertNoneBack(counts(second), counts(third), 'after a worker stopped');
    assert.equal(value(third, logins), 3, third);
    assert.equal(value(third, sessions), 1, third);
  } finally {
    for (const s of held) await s.close();
    assert.equal(await r.stop(), 0);
  }
});

test('--workers 2: /sessions lists a stopping worker sessions, and names that worker in missingWorkers when it does not answer', async () => {
  const admin = `127.0.0.1:${await freePort()}`;
  const token = 'stop-token-0123456789';
  const config = path.join(dir, 'admin.yaml');
  // The upload must not be cut while the test runs.
  await writeFile(config, `stopGraceSeconds: 300\nadmin:\n  listen: ${admin}\n  token: ${token}\n`);
  const r = await ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', path.join(dir, 'd3'), ...USERS],
    root,
  );
  const sessions = async (): Promise<SessionsReport> => {
    const res = await fetch(`http://${admin}/sessions`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as SessionsReport;
  };
  const uploader = await implicitSession(r, 'a');
  let stopped: number | undefined;
  try {
    const stopping = await r.pidOfLogin('a');
    const conn = await uploader.openData(await uploader.epsv(), { tls: true });
    conn.stream.resume();
    await uploader.cmd('STOR held.bin', 150);
    const from = r.log.length;
    process.kill(stopping, 'SIGTERM');
    const told = await r.waitForLog(
      since(r, from, (l) => l.msg?.startsWith('worker stopping') === true && l.workerPid === stopping),
      'the primary told that the worker stops',
    );
    await r.waitForLog(
      since(r, from, (l) => l.msg === 'worker ready' && l.worker === told.worker),
      'its replacement ready',
    );
    const listed = await sessions();
    assert.deepEqual(listed.missingWorkers, []);
    assert.deepEqual(
      listed.sessions.map((s) => [s.user, s.worker]),
      [['a', told.worker]],
    );

    // Stopped (SIGSTOP) while it finishes its upload: named, not silently left out.
    process.kill(stopping, 'SIGSTOP');
    stopped = stopping;
    const partial = await sessions();
    assert.deepEqual(partial.missingWorkers, [told.worker]);
    assert.deepEqual(partial.sessions, []);
    process.kill(stopping, 'SIGCONT');
    stopped = undefined;
    await uploader.uploadClean(conn, Buffer.alloc(1024, 3));
    await uploader.expect(226);
  } finally {
    if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    await uploader.close();
    assert.equal(await r.stop(), 0);
  }
});
