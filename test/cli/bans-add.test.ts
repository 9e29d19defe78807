/**
 * `ferry bans add` against a running `ferry serve --workers 2` (the primary decides: it refuses at
 * accept), and with no server running (the bans file a start loads); loopback only with --force.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { greetingFor } from '../support/greeting.js';
import { runFerry, ServeProcess } from '../support/ferry-process.js';

let dir: string;
let root: string;
let config: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bans-add-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  // Not the default /64: `ferry bans rm` (given no config) learns it from the server.
  config = path.join(dir, 'ferry.yaml');
  await writeFile(config, 'defender:\n  ipv6PrefixLength: 56\n');
});
after(() => rm(dir, { recursive: true, force: true }));

/** `ferry bans ARGS` on `dataDir`: its exit code and what it wrote. */
const bans = (dataDir: string, ...args: string[]): ReturnType<typeof runFerry> =>
  runFerry(['bans', ...args, '--data-dir', dataDir]);

const serve = (dataDir: string): Promise<ServeProcess> =>
  ServeProcess.start(
    ['--workers', '2', '--config', config, '--data-dir', dataDir, '--user', 'alice:secret'],
    root,
  );

test('--workers 2: bans add of a network refuses its addresses at once, listed with its reason, until bans rm', async () => {
  const dataDir = path.join(dir, 'running');
  const r = await serve(dataDir);
  try {
    const loopback = await bans(dataDir, 'add', '127.0.0.2');
    assert.equal(loopback.code, 2);
    assert.match(loopback.stderr, /127\.0\.0\.2 covers loopback .*add --force/);
    assert.match(await greetingFor(r.explicitPort, '127.0.0.2'), /^220 /, 'not banned');

    const added = await bans(
      dataDir,
      'add',
      '127.0.0.3/31',
      '--force',
      '--for',
      '2h',
      '--reason',
      'test scanner',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout,
      /^127\.0\.0\.2\/31 banned until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(2h00m\)\.\n$/,
    );
    const logged = await r.waitForLog(
      (l) => l.msg === 'address banned' && l.remote === '127.0.0.2/31',
      'the ban',
    );
    assert.equal(logged['reason'], 'test scanner');
    assert.equal(logged['last'], 'manual');
    assert.match(await greetingFor(r.explicitPort, '127.0.0.2'), /^421 .*banned/);
    assert.match(await greetingFor(r.explicitPort, '127.0.0.3'), /^421 .*banned/);
    assert.match(await greetingFor(r.explicitPort, '127.0.0.1'), /^220 /);

    const listed = await bans(dataDir, 'list');
    assert.match(
      listed.stdout,
      /^ADDRESS\s+UNTIL \(UTC\)\s+LEFT\s+BANS\s+REASON\n127\.0\.0\.2\/31 .* 1\s+test scanner\n$/,
    );
    const json = JSON.parse((await bans(dataDir, 'list', '--json')).stdout) as {
      address: string;
      reason: string;
    }[];
    assert.deepEqual(
      json.map((b) => [b.address, b.reason]),
      [['127.0.0.2/31', 'test scanner']],
    );

    // An address of the network is not lifted alone: that would let the whole network in.
    const inside = await bans(dataDir, 'rm', '127.0.0.3');
    assert.equal(inside.code, 1, inside.stderr);
    assert.equal(inside.stdout, '');
    assert.match(
      inside.stderr,
      /127\.0\.0\.3 is not banned itself, but refused by the ban of 127\.0\.0\.2\/31 \(until \d{4}-.*Z: test scanner\): 'ferry bans rm 127\.0\.0\.2\/31' lifts it for every address in it \(or add --covering\)/,
    );
    assert.match(await greetingFor(r.explicitPort, '127.0.0.3'), /^421 .*banned/);
    const covering = await bans(dataDir, 'rm', '127.0.0.3', '--covering');
    assert.equal(covering.code, 0, covering.stderr);
    assert.equal(covering.stdout, '127.0.0.2/31 unbanned.\n');
    assert.match(await greetingFor(r.explicitPort, '127.0.0.3'), /^220 /);
    assert.match(await greetingFor(r.explicitPort, '127.0.0.2'), /^220 /);

    // An IPv6 address is banned as its network of the server's ipv6PrefixLength (/56 here), and
    // an address of that network names it.
    assert.equal((await bans(dataDir, 'add', '2001:db8:1:2::5')).code, 0);
    const v6 = await bans(dataDir, 'rm', '2001:db8:1:3::9');
    assert.equal(v6.code, 0, v6.stderr);
    assert.equal(v6.stdout, '2001:db8:1::/56 unbanned.\n');
  } finally {
    await r.stop();
  }
});

test('no server: bans add writes the bans file, and a start refuses the network from the first connection', async () => {
  const dataDir = path.join(dir, 'saved');
  const added = await bans(dataDir, 'add', '127.0.0.4/30', '--force', '--reason', 'saved');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^127\.0\.0\.4\/30 banned until .* \(24h00m\)\.\n$/, 'maxBanSeconds by default');
  assert.match(added.stderr, /no server answered .*only the saved bans \(.*bans\.json\) were changed/);
  const bad = await bans(dataDir, 'add', 'not-an-address');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"not-an-address" is not an IP address or network/);
  const badFor = await bans(dataDir, 'add', '192.0.2.1', '--for', '5x');
  assert.equal(badFor.code, 2);
  assert.match(badFor.stderr, /--for: expected a duration/);

  const r = await serve(dataDir);
  try {
    assert.match(await greetingFor(r.explicitPort, '127.0.0.5'), /^421 .*banned/);
    assert.match(await greetingFor(r.explicitPort, '127.0.0.1'), /^220 /);
  } finally {
    await r.stop();
  }
});
