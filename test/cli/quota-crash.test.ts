/**
 * Quota usage after a process died between a change on disk and its record in usage.json (an
 * upload renamed into place, a file deleted): counted again by itself, for the users a dead worker
 * served (`--workers 2`), and for every user with a record when the whole server died (at the next
 * start). The window is held open without timing: this test holds usage.json's lock (as a live
 * process), so that the record waits while the change is already on disk; the process is killed
 * once the change is seen there.
 */
import assert from 'node:assert/strict';
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { storeCode } from '../support/ftps-session.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-quota-crash-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A data directory with user q (quota 10 MiB) whose home holds 100 B, counted: usage.json has q. */
async function setUp(name: string): Promise<{ data: string; home: string }> {
  const data = path.join(dir, name, 'data');
  const home = path.join(dir, name, 'q');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, 'old'), Buffer.alloc(100));
  const add = await ferryUsers(
    data,
    ['add', 'q', '--home', home, '--quota-size', '10M', '--password-stdin'],
    'pw\n',
  );
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await ferryUsers(data, ['rescan', 'q'])).code, 0);
  return { data, home };
}

async function usageOf(data: string): Promise<unknown> {
  const r = await ferryUsers(data, ['show', 'q', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { usage?: unknown }).usage;
}

async function session(server: ServeProcess): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login('q', 'pw');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

/** Holds `<data>/usage.json.lock` as this (live) process: no record is written until `release`. */
async function holdUsageLock(data: string): Promise<{ release(): Promise<void> }> {
  const lock = path.join(data, 'usage.json.lock');
  await writeFile(lock, `${process.pid} ${os.hostname()}\n`, { flag: 'wx' });
  return { release: () => unlink(lock) };
}

/** Resolves once `file` exists (`gone`: no longer exists), seen by watching its directory. */
function once(file: string, gone = false): Promise<void> {
  return new Promise((resolve) => {
    const done = (): boolean => existsSync(file) !== gone;
    const w = watch(path.dirname(file), () => {
      if (done()) {
        w.close();
        resolve();
      }
    });
    if (done()) {
      w.close();
      resolve();
    }
  });
}

/** `change` (an FTP command) with its record held back; SIGKILLs `pid` once `file` shows it. */
async function killAfterChange(
  data: string,
  pid: number,
  file: string,
  gone: boolean,
  change: () => Promise<unknown>,
): Promise<void> {
  const lock = await holdUsageLock(data);
  const seen = once(file, gone);
  const reply = change().catch(() => undefined); // the connection dies with the process
  await seen;
  process.kill(pid, 'SIGKILL');
  await reply;
  await lock.release();
}

test(
  'a worker killed after an upload landed and after a delete, before their records: its users are recounted',
  { timeout: 120_000 },
  async () => {
    const { data, home } = await setUp('worker');
    assert.deepEqual(await usageOf(data), { bytes: 100, files: 1 });
    const server = await ServeProcess.start(['--workers', '2', '--data-dir', data], dir);
    try {
      const recounted = (from: number) =>
        server.waitForLog(
          (l) => server.log.indexOf(l) >= from && /^worker \d+ died$/.test(String(l.reason)),
          'the recount after the worker died',
        );
      let from = server.log.length;
      const ftp = await session(server);
      const pid = await server.pidOfLogin('q');
      await killAfterChange(data, pid, path.join(home, 'big'), false, () => storeCode(ftp, 'big', 300_000));
      await ftp.close();
      const first = await recounted(from);
      assert.deepEqual(first.moved, [{ user: 'q', bytes: 300_000, files: 1 }]);
      assert.deepEqual(await usageOf(data), { bytes: 300_100, files: 2 });

      from = server.log.length;
      const again = await session(server);
      const pid2 = await server.loginPids('q', from, 1).then((p) => p[0] ?? 0);
      await killAfterChange(data, pid2, path.join(home, 'big'), true, () => again.cmd('DELE big'));
      await again.close();
      const second = await recounted(from);
      assert.deepEqual(second.moved, [{ user: 'q', bytes: -300_000, files: -1 }]);
      assert.deepEqual(await usageOf(data), { bytes: 100, files: 1 });
    } finally {
      await server.stop('SIGKILL');
    }
  },
);

test(
  'the whole server killed after an upload landed, before its record: the next start recounts',
  { timeout: 120_000 },
  async () => {
    const { data, home } = await setUp('server');
    const server = await ServeProcess.start(['--workers', '1', '--data-dir', data], dir);
    const ftp = await session(server);
    await killAfterChange(data, server.child.pid ?? 0, path.join(home, 'big'), false, () =>
      storeCode(ftp, 'big', 300_000),
    );
    await ftp.close();
    await server.stop('SIGKILL'); // reaped
    assert.deepEqual(await usageOf(data), { bytes: 100, files: 1 }, 'the upload is not recorded');

    const next = await ServeProcess.start(['--workers', '1', '--data-dir', data], dir);
    try {
      const line = await next.waitForLog((l) => l.reason === 'an unclean stop', 'the recount at the start');
      assert.deepEqual(line.moved, [{ user: 'q', bytes: 300_000, files: 1 }]);
      assert.deepEqual(await usageOf(data), { bytes: 300_100, files: 2 });
    } finally {
      assert.equal(await next.stop(), 0);
    }
    assert.equal(existsSync(path.join(data, 'serving')), false, 'a clean stop leaves no mark');
  },
);

test(
  "a clean stop before the start's recount is done leaves the mark: the next start recounts",
  { timeout: 120_000 },
  async () => {
    const { data } = await setUp('unfinished');
    const mark = path.join(data, 'serving');
    await writeFile(mark, '1\n'); // the last server here died
    const lock = await holdUsageLock(data); // the recount cannot read usage.json meanwhile
    try {
      const server = await ServeProcess.start(['--workers', '1', '--data-dir', data], dir);
      assert.equal(await server.stop(), 0);
    } finally {
      await lock.release();
    }
    assert.equal(existsSync(mark), true, 'the recount never ran to its end');
  },
);
