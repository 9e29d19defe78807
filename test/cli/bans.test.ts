/**
 * `ferry bans` against a running `ferry serve --workers 2` (failed logins seen by a worker, the ban
 * decided by the primary at accept), the ban kept across a restart, and lifted by the CLI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { RawFtp } from '../support/raw-ftp.js';
import { greetingFor } from '../support/greeting.js';
import { FERRY_MAIN, ServeProcess } from '../support/ferry-process.js';

const run = promisify(execFile);
const ATTACKER = '127.0.0.2';

let dir: string;
let root: string;
let dataDir: string;
let config: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bans-'));
  root = path.join(dir, 'root');
  dataDir = path.join(dir, 'data');
  await mkdir(root);
  config = path.join(dir, 'ferry.yaml');
  // One unknown user (1 point, as a wrong password) bans.
  await writeFile(config, 'defender:\n  threshold: 1\n  banSeconds: 3600\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const serve = (): Promise<ServeProcess> =>
  ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', dataDir, '--user', 'alice:secret'],
    root,
  );

async function bans(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [FERRY_MAIN, 'bans', ...args, '--data-dir', dataDir]);
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function bannedAddresses(): Promise<string[]> {
  const r = await bans('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { address: string }[]).map((b) => b.address);
}

test('--workers 2: a ban decided by the primary, listed by `ferry bans list`, kept across a restart, lifted by `ferry bans rm`', async () => {
  let r = await serve();
  try {
    const ftp = await RawFtp.connect({
      host: '127.0.0.1',
      port: r.implicitPort,
      implicit: true,
      localAddress: ATTACKER,
    });
    try {
      await ftp.expect(220);
      await ftp.cmd('USER nobody', 331);
      await ftp.cmd('PASS guess', 530);
    } finally {
      await ftp.close();
    }
    await r.waitForLog((l) => l.msg === 'address banned' && l.remote === ATTACKER, 'the ban');
    assert.match(await greetingFor(r.explicitPort, ATTACKER), /^421 .*banned/);
    assert.match(await greetingFor(r.explicitPort, '127.0.0.1'), /^220 /);
    assert.deepEqual(await bannedAddresses(), [ATTACKER]);
    const socket = await stat(path.join(dataDir, 'control.sock'));
    assert.equal(socket.mode & 0o777, 0o600);

    assert.equal(await r.stop(), 0);
    r = await serve();
    assert.match(
      await greetingFor(r.explicitPort, ATTACKER),
      /^421 .*banned/,
      'still banned after the restart',
    );
    const human = await bans('list');
    assert.match(human.stdout, /^ADDRESS\s+UNTIL \(UTC\)\s+LEFT\s+BANS\n127\.0\.0\.2 /);

    const removed = await bans('rm', ATTACKER);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `${ATTACKER} unbanned.\n`);
    await r.waitForLog((l) => l.msg === 'address unbanned' && l.remote === ATTACKER, 'the unban');
    assert.match(await greetingFor(r.explicitPort, ATTACKER), /^220 /);
    assert.deepEqual(await bannedAddresses(), []);
    const again = await bans('rm', ATTACKER);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not banned/);
  } finally {
    await r.stop();
  }
  // No server running: the file is read directly.
  assert.equal((await bans('list')).stdout, 'No banned addresses.\n');
});

test('no server: bans.json entries that are no address (`""`) are ignored; `bans rm ""` is refused', async () => {
  const data = await mkdtemp(path.join(dir, 'file-'));
  const now = Date.now();
  const ban = (address: string): object => ({ address, since: now, until: now + 3_600_000, bans: 1 });
  const active = [ban(''), ban('not-an-address'), ban('192.0.2.9')];
  await writeFile(path.join(data, 'bans.json'), JSON.stringify({ active, past: [] }));
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [FERRY_MAIN, 'bans', ...args, '--data-dir', data]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  const listed = await cli('list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { address: string }[]).map((b) => b.address),
    ['192.0.2.9'],
  );
  const blank = await cli('rm', '');
  assert.equal(blank.code, 2, 'not an address, and nothing listed as it');
  const removed = await cli('rm', '::ffff:192.0.2.9');
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, '192.0.2.9 unbanned.\n');
});

test('no server: an IPv6 network banned is listed as such, and lifted by an address in it', async () => {
  const data = await mkdtemp(path.join(dir, 'net-'));
  const now = Date.now();
  const active = [{ address: '2001:db8:1::/64', since: now, until: now + 3_600_000, bans: 1 }];
  await writeFile(path.join(data, 'bans.json'), JSON.stringify({ active, past: [] }));
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [FERRY_MAIN, 'bans', ...args, '--data-dir', data]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  const listed = await cli('list');
  assert.match(listed.stdout, /\n2001:db8:1::\/64 /);
  assert.equal((await cli('rm', '2001:db8:2::99')).code, 1, 'another /64');
  const removed = await cli('rm', '2001:db8:1::99');
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, '2001:db8:1::/64 unbanned.\n');
  assert.equal((await cli('rm', '2001:db8:1::/64')).code, 1, 'lifted already');
});

test('no server: an address inside a network banned is told, and lifted only with --covering', async () => {
  const data = await mkdtemp(path.join(dir, 'covering-'));
  const now = Date.now();
  const ban = (address: string, reason?: string): object => ({
    address,
    since: now,
    until: now + 3_600_000,
    bans: 1,
    ...(reason ? { reason } : {}),
  });
  const active = [ban('203.0.113.0/24', 'scanner'), ban('198.51.100.7'), ban('198.51.100.0/24')];
  await writeFile(path.join(data, 'bans.json'), JSON.stringify({ active, past: [] }));
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [FERRY_MAIN, 'bans', ...args, '--data-dir', data]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  const listed = async (): Promise<string[]> =>
    (JSON.parse((await cli('list', '--json')).stdout) as { address: string }[]).map((b) => b.address);

  const inside = await cli('rm', '203.0.113.7');
  assert.equal(inside.code, 1);
  assert.match(
    inside.stderr,
    /203\.0\.113\.7 is not banned itself in the saved bans \(.*\), but refused by the ban of 203\.0\.113\.0\/24 \(until .*Z: scanner\): 'ferry bans rm 203\.0\.113\.0\/24' lifts it for every address in it \(or add --covering\)/,
  );
  assert.deepEqual(await listed(), ['203.0.113.0/24', '198.51.100.7', '198.51.100.0/24'], 'nothing lifted');
  const covering = await cli('rm', '203.0.113.7', '--covering');
  assert.equal(covering.code, 0, covering.stderr);
  assert.equal(covering.stdout, '203.0.113.0/24 unbanned.\n');

  // Its own ban lifted, an address still refused by a network says so.
  const own = await cli('rm', '198.51.100.7');
  assert.equal(own.code, 0, own.stderr);
  assert.equal(own.stdout, '198.51.100.7 unbanned.\n');
  assert.match(
    own.stderr,
    /198\.51\.100\.7 is still refused by the ban of 198\.51\.100\.0\/24 \(until .*Z\); add --covering/,
  );
  assert.deepEqual(await listed(), ['198.51.100.0/24']);
  assert.equal((await cli('rm', '198.51.100.0/24')).stdout, '198.51.100.0/24 unbanned.\n', 'as listed');
  assert.equal((await cli('rm', '203.0.113.7')).code, 1, 'nothing bans it now');
});

test('no server answering on the control socket (a data dir moved or recreated): list and rm say on stderr that only the saved file was read or changed', async () => {
  const data = await mkdtemp(path.join(dir, 'nosocket-'));
  const now = Date.now();
  const active = [{ address: '192.0.2.7', since: now, until: now + 3_600_000, bans: 1 }];
  await writeFile(path.join(data, 'bans.json'), JSON.stringify({ active, past: [] }));
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [FERRY_MAIN, 'bans', ...args, '--data-dir', data]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  const socket = path.join(data, 'control.sock');
  const file = path.join(data, 'bans.json');
  const listed = await cli('list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(
    listed.stderr,
    `ferry: no server answered on ${socket} (none running with this data dir): the saved bans (${file}) are listed; a running server's bans may differ.\n`,
  );
  const removed = await cli('rm', '192.0.2.7');
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, '192.0.2.7 unbanned.\n');
  assert.match(
    removed.stderr,
    /^ferry: no server answered on .*: only the saved bans \(.*bans\.json\) were changed;/,
  );
  assert.equal(removed.stderr.split('\n').length, 2, 'said once');
  const again = await cli('rm', '192.0.2.7');
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /192\.0\.2\.7 is not banned in the saved bans \(.*bans\.json; no server answered on /,
  );
  const empty = await cli('list');
  assert.equal(empty.stdout, 'No banned addresses.\n');
  assert.match(empty.stderr, /no server answered/);
});

test('a server with the defender off: list and rm act on the saved bans, saying so on stderr', async () => {
  const data = await mkdtemp(path.join(dir, 'off-'));
  const offConfig = path.join(data, 'ferry.yaml');
  await writeFile(offConfig, 'defender:\n  enabled: false\n');
  const now = Date.now();
  const active = [{ address: '192.0.2.8', since: now, until: now + 3_600_000, bans: 1 }];
  const file = path.join(data, 'bans.json');
  await writeFile(file, JSON.stringify({ active, past: [] }));
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [FERRY_MAIN, 'bans', ...args, '--data-dir', data]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  const server = await ServeProcess.start(
    ['--workers', '1', '--config', offConfig, '--data-dir', data, '--user', 'alice:secret'],
    root,
  );
  try {
    await stat(path.join(data, 'control.sock')); // the socket is there (ferry kick uses it)
    const listed = await cli('list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { address: string }[]).map((b) => b.address),
      ['192.0.2.8'],
    );
    assert.match(
      listed.stderr,
      /^ferry: the server on .*control\.sock runs with the defender off: the saved bans \(.*bans\.json\) are listed; they apply when the defender is turned on\.\n$/,
    );
    const removed = await cli('rm', '192.0.2.8');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, '192.0.2.8 unbanned.\n');
    assert.match(removed.stderr, /defender off: only the saved bans \(.*bans\.json\) were changed;/);
    const again = await cli('rm', '192.0.2.8');
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /is not banned in the saved bans \(.*bans\.json; the server on .* runs with the defender off\)/,
    );
    assert.equal((await cli('list')).stdout, 'No banned addresses.\n');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
