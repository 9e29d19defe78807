/**
 * Quota usage and rates through `ferry serve --workers 2` and `ferry users` (issue 9): usage counted
 * once across workers, kept across a restart and shown by `ferry users show`; `ferry users rescan`
 * recounts what was put in the home behind the server's back; a rate set while the server runs
 * paces the next transfer.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hostDeepTree, undoHostDeepTree } from '../../src/storage/test-support.js';
import { ferryUsers, ServeProcess } from '../support/ferry-process.js';
import { RawFtp } from '../support/raw-ftp.js';
import { storeCode } from '../support/ftps-session.js';

const WORKERS = 2;
const MiB = 1024 * 1024;
let dir: string;
let data: string;
let home: string;
let server: ServeProcess;

async function users(args: string[], input?: string): Promise<string> {
  const r = await ferryUsers(data, args, input);
  assert.equal(r.code, 0, `ferry users ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `ferry users …` that changes the file; resolves once every worker has re-read it. */
async function change(args: string[], input?: string): Promise<void> {
  const from = server.log.length;
  await users(args, input);
  const reloads = (): number =>
    server.log.slice(from).filter((l) => l.msg === 'users file reloaded' && l.worker !== undefined).length;
  await server.waitForLog(() => reloads() >= WORKERS, `every worker re-reading after ${args.join(' ')}`);
}

const start = (): Promise<ServeProcess> =>
  ServeProcess.start(
    ['--workers', String(WORKERS), '--data-dir', data, '--user', 'admin:admin-pw', '--root', dir],
    dir,
  );

async function session(): Promise<RawFtp> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port: server.implicitPort, implicit: true });
  await ftp.expect(220);
  await ftp.login('carol', 'pw-carol');
  await ftp.cmd('TYPE I', 200);
  return ftp;
}

describe('quota usage and rates with ferry serve and ferry users', { timeout: 300_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-quota-cli-'));
    data = path.join(dir, 'data');
    home = path.join(dir, 'carol');
    await mkdir(home);
    server = await start();
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('usage across workers, after a restart, in ferry users show; rescan; a rate set live', async () => {
    await change(
      ['add', 'carol', '--home', home, '--quota-size', '1000', '--quota-files', '10', '--password-stdin'],
      'pw-carol\n',
    );
    assert.match(await users(['show', 'carol']), /quota size\s+1000 B; usage not counted yet/);
    // Two sessions at once: one on each worker.
    const [a, b] = [await session(), await session()];
    // Log lines are written in batches: wait for both logins' lines before reading their pids.
    const logins = () => server.log.filter((l) => l.msg === 'login' && l.user === 'carol');
    await server.waitForLog(() => logins().length >= 2, 'the two logins of carol');
    const pids = new Set(logins().map((l) => Number(l.pid)));
    assert.equal(pids.size, 2, 'the two sessions are served by different workers');
    assert.deepEqual(await Promise.all([storeCode(a, 'a', 300), storeCode(b, 'b', 300)]), [226, 226]);
    assert.equal(await storeCode(a, 'c', 401), 552); // 600 + 401 > 1000, whichever worker
    await Promise.all([a.close(), b.close()]);
    const shown = await users(['show', 'carol']);
    assert.match(shown, /quota size\s+600 B used of 1000 B \(60%\)/);
    assert.match(shown, /quota files\s+2 used of 10 \(20%\)/);
    assert.deepEqual(JSON.parse(await users(['show', 'carol', '--json'])).usage, { bytes: 600, files: 2 });

    await server.stop();
    server = await start();
    assert.match(await users(['show', 'carol']), /quota size\s+600 B used of 1000 B/);
    const c = await session();
    assert.equal(await storeCode(c, 'c', 401), 552);

    // Put behind the server's back: counted only by a rescan.
    await writeFile(path.join(home, 'direct'), Buffer.alloc(200));
    assert.match(await users(['rescan', 'carol']), /^carol: 800 B in 3 files/);
    assert.match(await users(['show', 'carol']), /quota size\s+800 B used of 1000 B/);
    assert.equal(await storeCode(c, 'c', 201), 552);
    assert.equal(await storeCode(c, 'c', 200), 226);

    // A rate set while the server runs paces the next transfer (a lower bound only).
    await mkdir(path.join(home, 'big'));
    await writeFile(path.join(home, 'big', 'two'), Buffer.alloc(2 * MiB));
    await change(['set', 'carol', '--download-rate', '1M']);
    const started = performance.now();
    const got = await c.retrieve('big/two');
    const ms = performance.now() - started;
    assert.equal(got.length, 2 * MiB);
    assert.ok(ms >= 1500, `took ${ms.toFixed(0)} ms`);
    await c.close();
  });
});

test('ferry users rescan counts a home holding a path over 4096 characters, saying what it left out', async (t) => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'ferry-rescan-'));
  const deep = path.join(base, 'deep');
  t.after(async () => {
    await undoHostDeepTree(deep);
    await rm(base, { recursive: true, force: true });
  });
  await mkdir(deep);
  await hostDeepTree(deep);
  const add = await ferryUsers(
    base,
    ['add', 'dave', '--home', deep, '--quota-size', '1M', '--password-stdin'],
    'pw\n',
  );
  assert.equal(add.code, 0, add.stderr);
  const r = await ferryUsers(base, ['rescan', 'dave']);
  assert.equal(r.code, 0, r.stderr); // was: ferry: Path too long.
  assert.equal(r.stdout, 'dave: 1 B in 1 files (not counted: 1 entry past 4096 characters)\n');
});
