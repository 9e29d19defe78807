/**
 * Ending one session (ProFTPD's ftpwho + kill, FileZilla Server's kick) on a real `ferry serve`:
 * `ferry kick ID | --user NAME | --address ADDR` over the control socket, and the admin listener's
 * POST /sessions/ID/close (only with admin.token set and given). The session is told
 * `421 Session closed by the administrator.`, a running upload cut with 426 first and not committed;
 * with --workers 1 and --workers 2 (the session lives in one worker).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SessionReport, SessionsReport } from '../../src/server/session-report.js';
import { runFerry, ServeProcess } from '../support/ferry-process.js';
import { freePort } from '../support/ports.js';
import { RawFtp, textOf, writeAll } from '../support/raw-ftp.js';

const TOKEN = 'kick-token-0123456789';
const CLOSED = 'Session closed by the administrator.';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-kick-'));
  root = path.join(dir, 'root');
  await mkdir(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Served {
  r: ServeProcess;
  admin: string;
  data: string;
}

/**
 * `ferry serve` with users alice and bob, the admin listener on a free port (with `token`, if any),
 * and `more` config.
 */
async function serve(workers: number, token: string | undefined, more = ''): Promise<Served> {
  const admin = `127.0.0.1:${await freePort()}`;
  const config = path.join(dir, `ferry-${workers}.yaml`);
  await writeFile(config, `admin:\n  listen: ${admin}\n${token ? `  token: ${token}\n` : ''}${more}`);
  const data = path.join(dir, `data-${workers}`);
  const r = await ServeProcess.start(
    [
      ...['--config', config, '--workers', String(workers), '--root', root],
      ...['--user', 'alice:secret', '--user', 'bob:secret', '--data-dir', data],
    ],
    dir,
  );
  return { r, admin, data };
}

/** The report once `ready` holds (a connection is listed once the server has taken it); bounded. */
async function sessionsOnce(
  admin: string,
  ready: (s: SessionsReport) => boolean,
  what: string,
): Promise<SessionsReport> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await sessions(admin, TOKEN);
    if (ready(s)) return s;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(s, null, 2)}`);
  }
}

async function sessions(admin: string, token?: string): Promise<SessionsReport> {
  const res = await fetch(`http://${admin}/sessions`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  assert.equal(res.status, 200);
  return (await res.json()) as SessionsReport;
}

function close(admin: string, id: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://${admin}/sessions/${id}/close`, { method: 'POST', ...init });
}

const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

/** Its 421, then the server's close. */
async function told(ftp: RawFtp): Promise<void> {
  assert.equal(textOf(await ftp.expect(421)), CLOSED);
  await ftp.closed;
}

test('--workers 1: ferry kick by id, --address and --user; POST /sessions/ID/close cuts an upload (426, not committed)', async () => {
  const { r, admin, data } = await serve(1, TOKEN);
  const clients: RawFtp[] = [];
  const login = async (user: string, localAddress = '127.0.0.1'): Promise<RawFtp> => {
    const ftp = await RawFtp.connect({
      host: '127.0.0.1',
      port: r.implicitPort,
      implicit: true,
      localAddress,
    });
    clients.push(ftp);
    await ftp.expect(220);
    await ftp.login(user, 'secret');
    return ftp;
  };
  const kick = (...args: string[]): ReturnType<typeof runFerry> =>
    runFerry(['kick', ...args, '--data-dir', data]);
  try {
    const idle = await login('alice');
    const bob = await login('bob');
    const bobElsewhere = await login('bob', '127.0.0.2');
    const uploader = await login('alice');
    const byPort = (s: SessionsReport, c: RawFtp): SessionReport => {
      const found = s.sessions.find((x) => x.port === c.socket.localPort);
      assert.ok(found, JSON.stringify(s));
      return found;
    };
    const before = await sessions(admin, TOKEN);
    const [idleId, uploaderId] = [byPort(before, idle).id, byPort(before, uploader).id];

    // Nothing matched: exit 1, nothing ended; no criterion at all is a usage error.
    const unknown = await kick('no-such-session');
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /no session matched/);
    assert.equal(unknown.stdout, '');
    assert.equal((await kick()).code, 2);

    // By id: that session alone.
    const one = await kick(idleId);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^${idleId} \\(alice from 127\\.0\\.0\\.1:\\d+\\) closed\\.\\n$`));
    await told(idle);
    const line = await r.waitForLog(
      (l) => l.session === idleId && l.msg === 'session closed by the administrator',
      'the kick logged',
    );
    assert.deepEqual([line.level, line.user, line.by], [30, 'alice', 'ferry kick (control socket)']);

    // An upload running: 426 first, then the 421; the file is not committed.
    await uploader.cmd('TYPE I', 200);
    const up = await uploader.openData(await uploader.epsv(), { tls: true });
    await uploader.cmd('STOR /part.bin', 150);
    await writeAll(up.stream, Buffer.alloc(1000, 1), 10_000);
    // HTTP: a token is needed and must be right; only POST; an unknown id is 404.
    assert.equal((await close(admin, uploaderId)).status, 401);
    assert.equal((await close(admin, uploaderId, bearer('not-the-token-0123'))).status, 401);
    const get = await fetch(`http://${admin}/sessions/${uploaderId}/close`, bearer(TOKEN));
    assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);
    assert.equal((await close(admin, 'no-such-session', bearer(TOKEN))).status, 404);
    const closed = await close(admin, uploaderId, bearer(TOKEN));
    assert.equal(closed.status, 200);
    const body = (await closed.json()) as { ended: SessionReport[]; missingWorkers: number[] };
    assert.deepEqual(
      body.ended.map((s) => [s.id, s.user, s.doing?.command]),
      [[uploaderId, 'alice', 'STOR']],
    );
    assert.equal((await uploader.expect(426)).code, 426);
    await told(uploader);
    assert.ok(!existsSync(path.join(root, 'part.bin')), 'the cut upload is not committed');
    const httpLine = await r.waitForLog(
      (l) => l.session === uploaderId && l.msg === 'session closed by the administrator',
      'the HTTP close logged',
    );
    assert.equal(httpLine.by, 'admin HTTP from 127.0.0.1');
    assert.equal((await close(admin, uploaderId, bearer(TOKEN))).status, 404, 'gone now');

    // An address as ferry who prints it, with another port: nobody; not an address: a usage error.
    const otherPort = (bobElsewhere.socket.localPort ?? 0) === 1 ? 2 : 1;
    assert.equal((await kick('--address', `127.0.0.2:${otherPort}`)).code, 1);
    const garbage = await kick('--address', '[127.0.0.2');
    assert.equal(garbage.code, 2, garbage.stderr);
    assert.match(garbage.stderr, /--address takes an address or network/);

    // By address: bob from 127.0.0.2 only; bob from 127.0.0.1 goes on.
    const byAddress = await kick('--address', '127.0.0.2');
    assert.equal(byAddress.code, 0, byAddress.stderr);
    assert.match(byAddress.stdout, /^\S+ \(bob from 127\.0\.0\.2:\d+\) closed\.\n$/);
    await told(bobElsewhere);
    await bob.cmd('PWD', 257);

    // By user: every session of bob (one left), then none.
    const byUser = await kick('--user', 'bob');
    assert.equal(byUser.code, 0, byUser.stderr);
    assert.match(byUser.stdout, /^\S+ \(bob from 127\.0\.0\.1:\d+\) closed\.\n$/);
    await told(bob);
    assert.equal((await kick('--user', 'bob')).code, 1);

    // Still in its TLS handshake (no ClientHello yet on the implicit port): closed all the same.
    const silent = net.connect({ host: '127.0.0.1', port: r.implicitPort, localAddress: '127.0.0.3' });
    silent.on('error', () => {});
    const silentClosed = once(silent, 'close');
    await once(silent, 'connect');
    const from3 = (s: SessionsReport): boolean => s.sessions.some((x) => x.address === '127.0.0.3');
    await sessionsOnce(admin, from3, 'the silent connection listed');
    const handshaking = await kick('--address', '127.0.0.3');
    assert.equal(handshaking.code, 0, handshaking.stderr);
    assert.match(handshaking.stdout, /^\S+ \(not logged in from 127\.0\.0\.3:\d+\) closed\.\n$/);
    await silentClosed;
    // The server forgets a session once its side has closed too: asked until it has.
    await sessionsOnce(admin, (s) => s.sessions.length === 0, 'every session gone');
  } finally {
    for (const c of clients) await c.close();
    assert.equal(await r.stop(), 0);
  }
});

test('--workers 2, defender off: ferry kick --user ends the sessions on both workers; no admin.token: POST is refused (403)', async () => {
  // The control socket is there with the defender off too.
  const { r, admin, data } = await serve(2, undefined, 'defender:\n  enabled: false\n');
  const clients: RawFtp[] = [];
  try {
    // Handed to the least busy worker: one connection each.
    for (let i = 0; i < 2; i++) {
      const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
      clients.push(ftp);
      await ftp.expect(220);
      await ftp.login('alice', 'secret');
    }
    const listed = await sessions(admin); // a loopback listener lists them without a token
    assert.deepEqual(listed.sessions.map((s) => s.worker).sort(), [1, 2]);
    const [first] = listed.sessions;
    assert.ok(first);
    const refused = await close(admin, first.id);
    assert.equal(refused.status, 403, 'a state change: never on the token-less loopback exception');
    assert.match(await refused.text(), /admin\.token/);

    const kicked = await runFerry(['kick', '--user', 'alice', '--data-dir', data]);
    assert.equal(kicked.code, 0, kicked.stderr);
    const lines = kicked.stdout.trimEnd().split('\n').sort();
    assert.equal(lines.length, 2, kicked.stdout);
    assert.match(lines.join('\n'), /alice from 127\.0\.0\.1:\d+, worker 1\) closed\./);
    assert.match(lines.join('\n'), /alice from 127\.0\.0\.1:\d+, worker 2\) closed\./);
    for (const c of clients) await told(c);
    assert.equal((await runFerry(['kick', first.id, '--data-dir', data])).code, 1);
  } finally {
    for (const c of clients) await c.close();
    assert.equal(await r.stop(), 0);
  }
});

test('a server older than kick (its control socket answers `unknown request`): ferry kick says the server does not know kick', async () => {
  const data = path.join(dir, 'data-old');
  await mkdir(data);
  // What an older server's control socket answers to an op it does not know.
  const old = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(`${JSON.stringify({ ok: false, error: 'unknown request' })}\n`));
  });
  old.listen(path.join(data, 'control.sock'));
  await once(old, 'listening');
  try {
    const kicked = await runFerry(['kick', 'abc', '--data-dir', data]);
    assert.match(kicked.stderr, /the server does not know kick/);
    assert.doesNotMatch(kicked.stderr, /the server says/);
    assert.equal(kicked.code, 1, 'not 2: the command line was right');
  } finally {
    old.close();
    await once(old, 'close');
  }
});
