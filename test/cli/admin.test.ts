/**
 * The admin listener and the transfer log of a real `ferry serve --workers 2` (issue 10, "Observe"):
 * the bearer token, metrics summed over the workers after known logins and transfers, the xferlog
 * lines, and /healthz and /readyz while the server runs and while it stops.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { curlDownload, curlUpload, expectSuccess } from '../support/clients.js';
import { ServeProcess } from '../support/ferry-process.js';
import { parseExposition, sample } from '../support/prometheus.js';
import { RawFtp } from '../support/raw-ftp.js';

const TOKEN = 'metrics-token-0123456789';

let dir: string;
let root: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-admin-'));
  root = path.join(dir, 'root');
  await mkdir(root);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The admin URL from the banner (`admin     http://127.0.0.1:PORT/metrics`). */
function adminOf(r: ServeProcess): string {
  const m = /admin\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(r.banner);
  assert.ok(m?.[1], r.banner);
  return m[1];
}

const get = (url: string, token?: string): Promise<Response> =>
  fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});

test('metrics over two workers, the token, the xferlog, and health while serving and stopping', async () => {
  const config = path.join(dir, 'ferry.yaml');
  const xferlog = path.join(dir, 'xferlog');
  await writeFile(config, `admin:\n  listen: 127.0.0.1:0\n  token: ${TOKEN}\nxferlog: xferlog\n`);
  const r = await ServeProcess.start(
    [
      ...['--config', config, '--workers', '2', '--root', root, '--user', 'alice:secret'],
      ...['--data-dir', path.join(dir, 'data'), '--log-level', 'debug'],
    ],
    dir,
  );
  try {
    const admin = adminOf(r);
    assert.equal((await get(`${admin}/metrics`)).status, 401, 'no token');
    assert.equal((await get(`${admin}/metrics`, 'wrong-token-0123456789')).status, 401, 'wrong token');
    assert.equal((await get(`${admin}/healthz`)).status, 200);
    assert.equal((await get(`${admin}/readyz`)).status, 200);

    // Two sessions (curl runs), likely on different workers: an upload, then a download.
    const local = path.join(dir, 'up.bin');
    await writeFile(local, Buffer.alloc(12_345, 7));
    const target = {
      host: '127.0.0.1',
      port: r.implicitPort,
      user: 'alice',
      password: 'secret',
      implicit: true,
    };
    expectSuccess(await curlUpload(target, local, '/up load.bin'));
    expectSuccess(await curlDownload(target, '/up load.bin', path.join(dir, 'down.bin')));
    await r.waitForLog(
      (l) => l.msg === 'disconnect' && r.log.filter((x) => x.msg === 'disconnect').length >= 2,
      'two sessions ended',
    );

    const res = await get(`${admin}/metrics`, TOKEN);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const s = parseExposition(await res.text());
    assert.equal(sample(s, 'ferry_logins_total', { result: 'success' }), 2);
    assert.equal(sample(s, 'ferry_transfers_total', { direction: 'upload', result: 'ok' }), 1);
    assert.equal(sample(s, 'ferry_transfers_total', { direction: 'download', result: 'ok' }), 1);
    assert.equal(sample(s, 'ferry_transfer_bytes_total', { direction: 'upload' }), 12_345);
    assert.equal(sample(s, 'ferry_transfer_bytes_total', { direction: 'download' }), 12_345);
    assert.equal(sample(s, 'ferry_sessions', { mode: 'implicit' }), 0);
    assert.ok(sample(s, 'process_resident_memory_bytes') > 0, 'Node process metrics');

    // xferlog(5): 14 fields; the space in the name became _.
    const lines = (await readFile(xferlog, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    const fields = lines.map((l) => l.split(/\s+/));
    for (const f of fields) {
      assert.equal(f.length, 18, 'ctime (5 fields) + 13'); // "Wed Dec  2 10:14:00 2026" is 5 tokens
      assert.match(f.slice(0, 5).join(' '), /^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2} \d\d:\d\d:\d\d \d{4}$/);
      assert.deepEqual(
        [f[6], f[7], f[8], f[9], f[10], f[12], f[13], f[14], f[15], f[17]],
        ['127.0.0.1', '12345', '/up_load.bin', 'b', '_', 'r', 'alice', 'ftp', '0', 'c'],
      );
    }
    assert.deepEqual(
      fields.map((f) => f[11]),
      ['i', 'o'],
    );

    // Stopping: a transfer held open keeps the server in its grace period; /readyz and /healthz say so.
    const ftp = await RawFtp.connect({ host: '127.0.0.1', port: r.implicitPort, implicit: true });
    try {
      await ftp.expect(220);
      await ftp.login('alice', 'secret');
      await ftp.cmd('TYPE I', 200);
      const conn = await ftp.openData(await ftp.epsv(), { tls: true });
      await ftp.cmd('STOR held.bin', 150);
      conn.stream.write(Buffer.alloc(1000));
      r.child.kill('SIGTERM');
      await r.waitForLog((l) => l.msg === 'shutting down', 'shutting down');
      assert.equal((await get(`${admin}/readyz`)).status, 503);
      assert.equal((await get(`${admin}/healthz`)).status, 503);
      await ftp.uploadClean(conn, new Uint8Array(0));
    } finally {
      await ftp.close();
    }
  } finally {
    assert.equal(await r.stop(), 0);
  }
});

/** The socket closed, whether by an end or a reset (events.once would reject on the reset). */
const closed = (socket: net.Socket): Promise<void> =>
  new Promise((resolve) => socket.once('close', () => resolve()));

/** GET `path` with a Host header of our choosing (fetch sends the URL's): its status. */
function statusWithHost(port: number, urlPath: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

/**
 * A connection from `localAddress` that asks for /healthz: resolves with the answer's first bytes
 * and the socket (kept open), or with '' once the server closed it unanswered.
 */
async function healthz(port: number, localAddress: string): Promise<{ got: string; socket: net.Socket }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const got = await Promise.race([
    new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(String(d)))),
    closed(socket).then(() => ''),
  ]);
  return { got, socket };
}

/** An FTPS login on the implicit port succeeds. */
async function login(port: number): Promise<void> {
  const ftp = await RawFtp.connect({ host: '127.0.0.1', port, implicit: true });
  try {
    await ftp.expect(220);
    await ftp.login('alice', 'secret');
  } finally {
    await ftp.close();
  }
}

test('a flood on the admin listener of --workers 2 leaves FTP serving; a rebound Host is refused', async () => {
  const config = path.join(dir, 'flood.yaml');
  await writeFile(config, 'admin:\n  listen: 127.0.0.1:0\n');
  const r = await ServeProcess.start(
    [
      ...['--config', config, '--workers', '2', '--root', root, '--user', 'alice:secret'],
      ...['--data-dir', path.join(dir, 'flood-data'), '--log-level', 'debug'],
    ],
    dir,
  );
  const held: net.Socket[] = [];
  try {
    const admin = adminOf(r);
    const port = Number(new URL(admin).port);

    // No token, on loopback: a web page rebound to 127.0.0.1 (DNS rebinding) reads nothing.
    assert.equal(await statusWithHost(port, '/sessions', `rebind.attacker.example:${port}`), 403);
    assert.equal(await statusWithHost(port, '/metrics', 'rebind.attacker.example'), 403);
    assert.equal(await statusWithHost(port, '/healthz', 'rebind.attacker.example'), 200);
    assert.equal(await statusWithHost(port, '/sessions', `localhost:${port}`), 200);
    assert.equal(await statusWithHost(port, '/metrics', `127.0.0.1:${port}`), 200);

    // 1,000 pipelined scrapes on one connection whose answers are not read.
    const flood = net.connect({ host: '127.0.0.1', port });
    flood.on('error', () => {});
    flood.pause();
    await once(flood, 'connect');
    flood.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(1000));
    await login(r.implicitPort);
    assert.equal((await get(`${admin}/healthz`)).status, 200);
    let answers = 0;
    let tail = '';
    flood.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      answers += text.split('HTTP/1.1 200').length - 1;
      tail = text.slice(-12);
    });
    flood.resume();
    await closed(flood);
    assert.ok(answers <= 9, `${answers} of 1000 pipelined scrapes answered: the connection was not closed`);
    const overflow = await r.waitForLog(
      (l) => l.msg === 'admin connection refused' && l.remote === '127.0.0.1',
      'the closing logged',
    );
    assert.equal(overflow.why, 'more than 8 requests waiting');

    // Connections: 16 from one address are served, the 17th is refused; FTP greets all the while.
    for (let i = 0; i < 16; i++) {
      const c = await healthz(port, '127.0.0.2');
      held.push(c.socket);
      assert.match(c.got, /^HTTP\/1\.1 200/, `connection ${i + 1}`);
    }
    const refused = await healthz(port, '127.0.0.2');
    assert.equal(refused.got, '', 'the 17th from one address: closed unanswered');
    await login(r.implicitPort);
    const warning = await r.waitForLog(
      (l) => l.msg === 'admin connection refused' && l.remote === '127.0.0.2',
      'the refusal logged',
    );

    // The primary's log is in order: every scrape's gather was logged before that warning.
    const before = r.log.slice(0, r.log.indexOf(warning));
    const gathers = before.filter((l) => l.msg === 'asking the workers for their metrics').length;
    assert.ok(gathers <= 10, `${gathers} gathers logged for 1,000 pipelined scrapes`);
  } finally {
    for (const s of held) s.destroy();
    assert.equal(await r.stop(), 0);
  }
});
