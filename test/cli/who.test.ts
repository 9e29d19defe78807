/**
 * Who is online (ProFTPD's ftpwho, Pure-FTPd's pure-ftpwho): the admin listener's GET /sessions and
 * `ferry who` on a real `ferry serve`, with real sessions: one logged in and idle, one not logged
 * in (explicit, no TLS yet), an upload and an anonymous download held open mid-transfer; then over
 * `--workers 2`, the sessions of both workers, and a stopped worker reported missing, not waited for.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SessionActivity, SessionReport, SessionsReport } from '../../src/server/session-report.js';
import { runFerry, ServeProcess } from '../support/ferry-process.js';
import { freePort } from '../support/ports.js';
import { RawFtp, writeAll } from '../support/raw-ftp.js';

const TOKEN = 'who-token-0123456789';
/** Far more than the sockets buffer: a download the client does not read stays mid-transfer. */
const BIG = 64 * 1024 * 1024;

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-who-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  const big = await open(path.join(root, 'big.iso'), 'w');
  await big.truncate(BIG); // sparse: costs no disk
  await big.close();
  await writeFile(path.join(dir, 'token'), `${TOKEN}\n`);
  await writeFile(path.join(dir, 'wrong-token'), 'not-the-token-0123456789\n');
  await writeFile(path.join(dir, 'two-line-token'), `${TOKEN}\nsecond-line\n`);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `ferry serve` with the admin listener on a free port and the token in its config. */
async function serve(workers: number): Promise<{ r: ServeProcess; admin: string; config: string }> {
  const admin = `127.0.0.1:${await freePort()}`;
  const config = path.join(dir, `ferry-${workers}.yaml`);
  await writeFile(config, `admin:\n  listen: ${admin}\n  token: ${TOKEN}\n`);
  const r = await ServeProcess.start(
    [
      ...['--config', config, '--workers', String(workers), '--root', root, '--user', 'alice:secret'],
      ...['--anonymous', root, '--data-dir', path.join(dir, `data-${workers}`)],
    ],
    dir,
  );
  return { r, admin, config };
}

async function sessions(admin: string): Promise<SessionsReport> {
  const res = await fetch(`http://${admin}/sessions`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as SessionsReport;
}

/**
 * The report once `ready` holds: the server counts a transfer's bytes as they pass, so it is asked
 * again (each answer a round trip) until it has seen what the test sent; bounded.
 */
async function sessionsOnce(
  admin: string,
  ready: (s: SessionsReport) => boolean,
  what: string,
): Promise<SessionsReport> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await sessions(admin);
    if (ready(s)) return s;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(s, null, 2)}`);
  }
}

const localPortOf = (ftp: RawFtp): number | undefined => ftp.socket.localPort;

/** A transfer's activity without its pace (which depends on when it is asked), checked apart. */
function withoutPace(doing: SessionActivity | null | undefined): object | null | undefined {
  if (!doing) return doing;
  const { bytesPerSecond: _rate, sinceProgressSeconds: _since, ...rest } = doing;
  return rest;
}

/** A transfer's pace: whole, not negative (a rate and the seconds since its bytes last moved). */
function assertPace(doing: SessionActivity | null | undefined): void {
  for (const v of [doing?.bytesPerSecond, doing?.sinceProgressSeconds])
    assert.ok(typeof v === 'number' && Number.isInteger(v) && v >= 0, JSON.stringify(doing));
}

test('GET /sessions and ferry who: idle, not logged in, an upload and an anonymous download mid-transfer', async () => {
  const { r, admin, config } = await serve(1);
  const clients: RawFtp[] = [];
  const connect = async (implicit: boolean): Promise<RawFtp> => {
    const port = implicit ? r.implicitPort : r.explicitPort;
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port, implicit });
    clients.push(ftp);
    await ftp.expect(220);
    return ftp;
  };
  try {
    const res = await fetch(`http://${admin}/sessions`);
    assert.equal(res.status, 401, 'the token is needed, as for /metrics');

    const idle = await connect(true);
    await idle.login('alice', 'secret');
    await idle.cmd('CWD /', 250);

    const stranger = await connect(false);

    const uploader = await connect(true);
    await uploader.login('alice', 'secret');
    await uploader.cmd('TYPE I', 200);
    const up = await uploader.openData(await uploader.epsv(), { tls: true });
    await uploader.cmd('STOR /held.bin', 150);
    await writeAll(up.stream, Buffer.alloc(1000, 1), 10_000);

    const downloader = await connect(false);
    await downloader.authTls();
    await downloader.cmd('USER anonymous', 331);
    await downloader.cmd('PASS secret-looking@example.org', 230);
    await downloader.cmd('PBSZ 0', 200);
    await downloader.cmd('PROT P', 200);
    await downloader.cmd('TYPE I', 200);
    const down = await downloader.openData(await downloader.epsv(), { tls: true });
    await downloader.cmd('RETR big.iso', 150); // never read: the transfer stays open

    const byPort = (s: SessionsReport, c: RawFtp): SessionReport | undefined =>
      s.sessions.find((x) => x.port === localPortOf(c));
    const report = await sessionsOnce(
      admin,
      (s) => byPort(s, uploader)?.doing?.bytes === 1000 && (byPort(s, downloader)?.doing?.bytes ?? 0) > 0,
      'the upload and the download under way',
    );
    assert.deepEqual(report.missingWorkers, []);
    assert.equal(report.sessions.length, 4);
    const [i, n, u, d] = [idle, stranger, uploader, downloader].map((c) => byPort(report, c));
    assert.ok(i && n && u && d, JSON.stringify(report));
    for (const s of [i, n, u, d]) {
      assert.match(s.id, /^[0-9a-f-]{36}$/);
      assert.equal(s.address, '127.0.0.1');
      assert.equal(s.worker, null);
      assert.ok(Math.abs(Date.parse(s.since) - Date.now()) < 60_000, s.since);
      assert.equal(new Date(s.since).toISOString(), s.since);
    }
    // The id is the one the session's log lines carry.
    assert.ok(r.log.some((l) => l.session === i.id && l.msg === 'login' && l.user === 'alice'));

    assert.deepEqual(
      { user: i.user, anonymous: i.anonymous, mode: i.mode, tls: i.tls, doing: i.doing },
      { user: 'alice', anonymous: false, mode: 'implicit', tls: true, doing: null },
    );
    assert.ok(Number.isInteger(i.idleSeconds) && i.idleSeconds >= 0);
    assert.deepEqual(
      { user: n.user, anonymous: n.anonymous, mode: n.mode, tls: n.tls, doing: n.doing },
      { user: null, anonymous: false, mode: 'explicit', tls: false, doing: null },
    );
    assert.deepEqual(
      { user: u.user, idle: u.idleSeconds, doing: withoutPace(u.doing) },
      {
        user: 'alice',
        idle: 0,
        doing: { command: 'STOR', path: '/held.bin', bytes: 1000, direction: 'upload' },
      },
    );
    assertPace(u.doing);
    assertPace(d.doing);
    assert.deepEqual(
      { user: d.user, anonymous: d.anonymous, mode: d.mode, tls: d.tls, idle: d.idleSeconds },
      { user: 'anonymous', anonymous: true, mode: 'explicit', tls: true, idle: 0 },
    );
    assert.deepEqual(
      { ...withoutPace(d.doing), bytes: 0 },
      { command: 'RETR', path: '/big.iso', bytes: 0, direction: 'download' },
    );
    assert.ok((d.doing?.bytes ?? 0) < BIG);
    const text = JSON.stringify(report);
    assert.ok(!text.includes('secret'), 'no password, anonymous or not');

    // ferry who, finding the listener and the token in the server's config (FERRY_CONFIG too).
    const who = await runFerry(['who', '--config', config]);
    assert.equal(who.code, 0, who.stderr);
    const lines = who.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^USER +ADDRESS +MODE +SINCE +IDLE +DOING$/);
    assert.equal(lines.length, 5, who.stdout);
    const line = (port: number | undefined): string =>
      lines.find((l) => l.includes(`127.0.0.1:${port} `)) ?? '';
    assert.match(line(localPortOf(idle)), /^alice +127\.0\.0\.1:\d+ +implicit +\S+ +\d+s +-$/);
    assert.match(
      line(localPortOf(stranger)),
      /^\(not logged in\) +127\.0\.0\.1:\d+ +explicit, clear +\S+ +\d+s +-$/,
    );
    // Its rate over the last seconds, and `stalled` once nothing moved for 5 s (the test may take that).
    assert.match(
      line(localPortOf(uploader)),
      / 0s +STOR \/held\.bin 1000 B at \d+(\.\d+)? (B|KiB)\/s(, stalled \d+s)?$/,
    );
    assert.match(
      line(localPortOf(downloader)),
      /^anonymous +127\.0\.0\.1:\d+ +explicit +\S+ +0s +RETR \/big\.iso \d/,
    );
    const viaEnv = await runFerry(['who', '--json'], undefined, { FERRY_CONFIG: config });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.ok(!viaEnv.stderr.includes(TOKEN));
    const json = JSON.parse(viaEnv.stdout) as SessionsReport;
    assert.equal(json.sessions.length, 4);
    assert.deepEqual(withoutPace(json.sessions.find((s) => s.id === u.id)?.doing), {
      command: 'STOR',
      path: '/held.bin',
      bytes: 1000,
      direction: 'upload',
    });

    // --admin and --token-file instead of the config; a wrong token, none, a listener not there.
    const flags = await runFerry(['who', '--admin', admin, '--token-file', path.join(dir, 'token')]);
    assert.equal(flags.code, 0, flags.stderr);
    assert.ok(!flags.stderr.includes(TOKEN));
    assert.equal(flags.stdout.trimEnd().split('\n').length, 5);
    const wrong = await runFerry(['who', '--admin', admin, '--token-file', path.join(dir, 'wrong-token')]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /401, the token was refused/);
    assert.ok(!wrong.stderr.includes('not-the-token'));
    const none = await runFerry(['who', '--admin', admin]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /401, a token is needed/);
    const refused = await runFerry(['who', '--admin', `127.0.0.1:${await freePort()}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /connection refused/);
    const noAdmin = path.join(dir, 'no-admin.yaml');
    await writeFile(noAdmin, 'logLevel: info\n');
    const off = await runFerry(['who', '--config', noAdmin]);
    assert.equal(off.code, 2);
    assert.match(off.stderr, /no-admin\.yaml: no admin listener \(admin\.listen\)/);

    // The upload ends: its session waits for the client again.
    await uploader.uploadClean(up, new Uint8Array(0));
    await uploader.expect(226);
    const later = await sessions(admin);
    assert.equal(later.sessions.find((s) => s.id === u.id)?.doing, null);
    down.stream.destroy();
  } finally {
    for (const c of clients) await c.close();
    assert.equal(await r.stop(), 0);
  }
});

test('a token that cannot be sent (two lines) is refused naming its file or config key, never printed', async () => {
  const admin = `127.0.0.1:${await freePort()}`;
  const file = await runFerry(['who', '--admin', admin, '--token-file', path.join(dir, 'two-line-token')]);
  assert.equal(file.code, 2);
  assert.match(file.stderr, /--token-file \S*two-line-token: the token must be one line/);
  assert.ok(!file.stderr.includes(TOKEN), file.stderr);
  const config = path.join(dir, 'block-token.yaml');
  await writeFile(config, `admin:\n  listen: ${admin}\n  token: |\n    ${TOKEN}\n    second-line\n`);
  const key = await runFerry(['who', '--config', config]);
  assert.equal(key.code, 2);
  assert.match(key.stderr, /block-token\.yaml: admin\.token: the token must be one line/);
  assert.ok(!key.stderr.includes(TOKEN), key.stderr);
});

test('port 0 is refused naming where it came from: --admin or the config key', async () => {
  const flag = await runFerry(['who', '--admin', '127.0.0.1:0', '--token-file', path.join(dir, 'token')]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^ferry: --admin has port 0 \(chosen at each start\)/);
  const config = path.join(dir, 'port-0.yaml');
  await writeFile(config, `admin:\n  listen: 127.0.0.1:0\n  token: ${TOKEN}\n`);
  const key = await runFerry(['who', '--config', config]);
  assert.equal(key.code, 2);
  assert.match(key.stderr, /port-0\.yaml: admin\.listen has port 0 \(chosen at each start\)/);
});

test('--workers 2: the sessions of both workers; a worker that does not answer is named, not waited for', async () => {
  const { r, admin } = await serve(2);
  const clients: RawFtp[] = [];
  try {
    // Handed to the least busy worker: one connection each.
    for (let i = 0; i < 2; i++) {
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
      clients.push(ftp);
      await ftp.expect(220);
      await ftp.login('alice', 'secret');
    }
    const report = await sessions(admin);
    assert.deepEqual(report.missingWorkers, []);
    assert.deepEqual(report.sessions.map((s) => s.worker).sort(), [1, 2]);
    assert.ok(report.sessions.every((s) => s.user === 'alice' && s.mode === 'implicit' && s.tls));

    const who = await runFerry(['who', '--admin', admin, '--token-file', path.join(dir, 'token')]);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /^USER +ADDRESS +MODE +SINCE +IDLE +DOING +WORKER\n/);
    assert.match(who.stdout, /\n(alice .* 1\n.*alice .* 2|alice .* 2\n.*alice .* 1)\n$/);

    // Worker 1 stopped (SIGSTOP): the list comes in bounded time without its sessions.
    const [first] = r.workerPids;
    assert.ok(first !== undefined, r.banner);
    process.kill(first, 'SIGSTOP');
    try {
      const started = Date.now();
      const partial = await sessions(admin);
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual(partial.missingWorkers, [1]);
      assert.deepEqual(
        partial.sessions.map((s) => s.worker),
        [2],
      );
      const note = await runFerry(['who', '--admin', admin, '--token-file', path.join(dir, 'token')]);
      assert.equal(note.code, 0, note.stderr);
      assert.match(note.stderr, /worker 1 did not answer: its sessions are not listed/);
    } finally {
      process.kill(first, 'SIGCONT');
    }
  } finally {
    for (const c of clients) await c.close();
    assert.equal(await r.stop(), 0);
  }
});
