import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { silentLogger, type Logger } from '../logger.js';
import { AdminServer, isLoopback, loopbackHost } from './admin-server.js';

test('/readyz is 503 until started and again once stopping; /healthz follows the listeners', async () => {
  const state = { accepting: false, ready: false };
  const admin = await AdminServer.open(
    { host: '127.0.0.1', port: 0, logger: silentLogger },
    {
      metrics: async () => ({ text: 'ferry_up 1\n', contentType: 'text/plain; version=0.0.4' }),
      accepting: () => state.accepting,
      ready: () => state.ready,
      sessions: async () => ({ sessions: [], missingWorkers: [] }),
      closeSession: async () => ({ ended: [], missingWorkers: [] }),
    },
  );
  const url = `http://127.0.0.1:${admin.address.port}`;
  const status = async (p: string, init?: RequestInit): Promise<number> =>
    (await fetch(url + p, init)).status;
  try {
    // Starting: the admin listener is up before the FTPS listeners.
    assert.deepEqual([await status('/healthz'), await status('/readyz')], [503, 503]);
    state.accepting = true; // listeners bound, workers still starting
    assert.deepEqual([await status('/healthz'), await status('/readyz')], [200, 503]);
    state.ready = true;
    assert.deepEqual([await status('/healthz'), await status('/readyz')], [200, 200]);
    state.ready = false; // stopping
    state.accepting = false;
    assert.deepEqual([await status('/healthz'), await status('/readyz')], [503, 503]);
    // No token configured: /metrics is open.
    assert.equal(await (await fetch(`${url}/metrics`)).text(), 'ferry_up 1\n');
    assert.equal(await status('/nothing'), 404);
    assert.equal(await status('/metrics', { method: 'POST' }), 405);
  } finally {
    await admin.close();
  }
});

test('with a token, /metrics needs it; the health endpoints do not', async () => {
  const admin = await AdminServer.open(
    { host: '127.0.0.1', port: 0, token: 'a-long-enough-token', logger: silentLogger },
    {
      metrics: async () => ({ text: 'ferry_up 1\n', contentType: 'text/plain' }),
      accepting: () => true,
      ready: () => true,
      sessions: async () => ({ sessions: [], missingWorkers: [2] }),
      closeSession: async () => ({ ended: [], missingWorkers: [] }),
    },
  );
  const url = `http://127.0.0.1:${admin.address.port}`;
  try {
    const denied = await fetch(`${url}/metrics`);
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="ferry"');
    const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-long-enough-tokeN' } });
    assert.equal(wrong.status, 401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-long-enough-token' } });
    assert.equal(ok.status, 200);
    const lower = await fetch(`${url}/metrics`, { headers: { authorization: 'bearer a-long-enough-token' } });
    assert.equal(lower.status, 200, 'the scheme is case-insensitive (RFC 7235 2.1)');
    assert.equal((await fetch(`${url}/sessions`)).status, 401, '/sessions is guarded as /metrics is');
    const sessions = await fetch(`${url}/sessions`, {
      headers: { authorization: 'Bearer a-long-enough-token' },
    });
    assert.match(sessions.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await sessions.json(), { sessions: [], missingWorkers: [2] });
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    await admin.close();
  }
});

test('a request refused for its token is logged with the address, rate-limited per path and kind', async () => {
  const lines: { obj: object; msg: string }[] = [];
  const logger: Logger = { ...silentLogger, warn: (obj, msg = '') => void lines.push({ obj, msg }) };
  const admin = await AdminServer.open(
    { host: '127.0.0.1', port: 0, token: 'a-long-enough-token', logger },
    {
      metrics: async () => ({ text: 'ferry_up 1\n', contentType: 'text/plain' }),
      accepting: () => true,
      ready: () => true,
      sessions: async () => ({ sessions: [], missingWorkers: [] }),
      closeSession: async () => ({ ended: [], missingWorkers: [] }),
    },
  );
  const url = `http://127.0.0.1:${admin.address.port}`;
  const wrong = { authorization: 'Bearer guessed' };
  try {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/metrics`, { headers: wrong })).status, 401);
    assert.equal((await fetch(`${url}/sessions`)).status, 401);
    const close = await fetch(`${url}/sessions/abc/close`, { method: 'POST', headers: wrong });
    assert.equal(close.status, 401);
    assert.equal(
      (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer a-long-enough-token' } })).status,
      200,
    );
    const msg = 'admin request refused: wrong or missing token';
    assert.deepEqual(lines, [
      { obj: { remote: '127.0.0.1', why: '/metrics: wrong token' }, msg }, // the two others within the minute: counted
      { obj: { remote: '127.0.0.1', why: '/sessions: no token' }, msg },
      { obj: { remote: '127.0.0.1', why: 'POST /sessions/ID/close: wrong token' }, msg },
    ]);
  } finally {
    await admin.close();
  }
});

test('without a token, /sessions answers only on a loopback listener; elsewhere 403, and a warning at start', async () => {
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (_o, msg) => void warnings.push(msg ?? '') };
  const source = {
    metrics: async () => ({ text: 'ferry_up 1\n', contentType: 'text/plain' }),
    accepting: () => true,
    ready: () => true,
    sessions: async () => ({ sessions: [], missingWorkers: [] }),
    closeSession: async () => ({ ended: [], missingWorkers: [] }),
  };
  const local = await AdminServer.open({ host: '127.0.0.1', port: 0, logger }, source);
  try {
    const r = await fetch(`http://127.0.0.1:${local.address.port}/sessions`);
    assert.equal(r.status, 200);
    assert.deepEqual(warnings, []);
  } finally {
    await local.close();
  }
  const open = await AdminServer.open({ host: '0.0.0.0', port: 0, logger }, source);
  try {
    const r = await fetch(`http://127.0.0.1:${open.address.port}/sessions`);
    assert.equal(r.status, 403);
    assert.match(await r.text(), /set admin\.token, or listen on loopback/);
    assert.equal((await fetch(`http://127.0.0.1:${open.address.port}/metrics`)).status, 200);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /not on loopback and without admin\.token/);
  } finally {
    await open.close();
  }
});

test('loopback listeners: 127.0.0.0/8, ::1 and localhost; not the wildcards or other addresses', () => {
  for (const h of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost'])
    assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.0.2.1', 'example.org', '::ffff:10.0.0.1'])
    assert.equal(isLoopback(h), false, h);
});

/** GET `path` with a Host header of our choosing (fetch sends the URL's). */
function getWithHost(port: number, urlPath: string, host: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {
      host,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

const quietSource = {
  metrics: async () => ({ text: 'ferry_up 1\n', contentType: 'text/plain' }),
  accepting: () => true,
  ready: () => true,
  sessions: async () => ({ sessions: [], missingWorkers: [] }),
  closeSession: async () => ({ ended: [], missingWorkers: [] }),
};

test('without a token, /metrics and /sessions answer only a Host naming this host (DNS rebinding); the health endpoints any', async () => {
  const admin = await AdminServer.open({ host: '127.0.0.1', port: 0, logger: silentLogger }, quietSource);
  const port = admin.address.port;
  try {
    for (const host of [`rebind.attacker.example:${port}`, 'rebind.attacker.example', '10.0.0.1']) {
      assert.equal(await getWithHost(port, '/sessions', host), 403, host);
      assert.equal(await getWithHost(port, '/metrics', host), 403, host);
      assert.equal(await getWithHost(port, '/healthz', host), 200, host);
      assert.equal(await getWithHost(port, '/readyz', host), 200, host);
    }
    for (const host of [
      `localhost:${port}`,
      'LocalHost',
      `127.0.0.1:${port}`,
      '127.3.2.1',
      `[::1]:${port}`,
      '[::1]',
    ])
      assert.equal(await getWithHost(port, '/sessions', host), 200, host);
  } finally {
    await admin.close();
  }
  const token = 'a-long-enough-token';
  const guarded = await AdminServer.open(
    { host: '127.0.0.1', port: 0, token, logger: silentLogger },
    quietSource,
  );
  try {
    const p = guarded.address.port;
    assert.equal(
      await getWithHost(p, '/sessions', 'rebind.attacker.example', token),
      200,
      'the token decides',
    );
  } finally {
    await guarded.close();
  }
});

test('Host headers that name a loopback address', () => {
  for (const h of [
    'localhost',
    'localhost:9900',
    '127.0.0.1',
    '127.0.0.1:80',
    '[::1]',
    '[::1]:9900',
    undefined,
  ])
    assert.equal(loopbackHost(h), true, String(h));
  for (const h of [
    '',
    'example.org',
    'localhost.example.org',
    '127.0.0.1.nip.io',
    '[::2]:80',
    '::1',
    '10.0.0.1:80',
  ])
    assert.equal(loopbackHost(h), false, h);
});

/** The socket closed, whether by an end or a reset (events.once would reject on the reset). */
const closed = (socket: net.Socket): Promise<void> =>
  new Promise((resolve) => socket.once('close', () => resolve()));

/** A connection that asked for /healthz and has its answer, kept open (keep-alive). */
async function held(port: number, localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const [data] = (await once(socket, 'data')) as [Buffer];
  assert.match(data.toString(), /^HTTP\/1\.1 200/);
  return socket;
}

/** What a connection gets for a /healthz: its answer, or nothing before it is closed. */
async function answer(port: number, localAddress: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => {});
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  await closed(socket);
  return got;
}

test('connections are capped, in all and per address, and refusals are logged', async () => {
  const warnings: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (o, msg) => void warnings.push(`${msg}: ${JSON.stringify(o)}`),
  };
  const limits = { maxConnections: 4, maxPerAddress: 2, maxQueued: 8 };
  const admin = await AdminServer.open({ host: '127.0.0.1', port: 0, logger, limits }, quietSource);
  const port = admin.address.port;
  const open: net.Socket[] = [];
  try {
    open.push(await held(port, '127.0.0.1'), await held(port, '127.0.0.1'));
    assert.equal(await answer(port, '127.0.0.1'), '', 'a third from one address: closed unanswered');
    assert.match(warnings.join('\n'), /admin connection refused.*"remote":"127\.0\.0\.1".*from this address/);
    open.push(await held(port, '127.0.0.2'), await held(port, '127.0.0.3'));
    assert.equal(await answer(port, '127.0.0.4'), '', 'a fifth in all: closed unanswered');
    assert.match(
      warnings.join('\n'),
      /admin connection refused.*"remote":"127\.0\.0\.4".*4 connections open/,
    );
  } finally {
    for (const s of open) s.destroy();
    await admin.close();
  }
});

test('a connection that sends half a request and nothing more is answered 408 and closed after the headers timeout', async () => {
  // Only the headers timeout is short: the whole-request and idle ones would close it after a minute.
  const timeouts = { headersMs: 100, requestMs: 60_000, checkEveryMs: 50, idleMs: 60_000 };
  const admin = await AdminServer.open(
    { host: '127.0.0.1', port: 0, logger: silentLogger, timeouts },
    quietSource,
  );
  const socket = net.connect({ host: '127.0.0.1', port: admin.address.port });
  try {
    socket.on('error', () => {});
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.write('GET /healthz HTTP/1.1\r\nHost: local');
    // A bound for a broken timeout, far above 100 ms and far below the other timeouts.
    assert.equal(await closedWithin(socket, 20_000), true, 'closed by the server');
    assert.match(got, /^HTTP\/1\.1 408 /);
  } finally {
    socket.destroy();
    await admin.close();
  }
});

/** Whether `socket` closed within `ms` (false: still open then). */
async function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([closed(socket).then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

test('pipelined scrapes from a client that does not read: a few at a time, then the connection is closed', async () => {
  let gathers = 0;
  const big = 'x'.repeat(4 << 20) + '\n'; // more than the socket buffers hold
  const source = {
    ...quietSource,
    metrics: async () => {
      gathers++;
      return { text: big, contentType: 'text/plain' };
    },
  };
  const admin = await AdminServer.open({ host: '127.0.0.1', port: 0, logger: silentLogger }, source);
  const port = admin.address.port;
  try {
    const flood = net.connect({ host: '127.0.0.1', port });
    flood.on('error', () => {});
    flood.pause();
    await once(flood, 'connect');
    flood.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(1000));
    // Meanwhile the listener answers others.
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
    // Now read what it sent: far fewer answers than requests, then the end.
    let received = 0;
    let tail = '';
    flood.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      received += text.split('HTTP/1.1 200').length - 1;
      tail = text.slice(-12);
    });
    flood.resume();
    await closed(flood);
    assert.ok(received <= 9, `${received} answers`);
    assert.ok(gathers <= 10, `${gathers} gathers`); // the flood's 9 and the fetch's
  } finally {
    await admin.close();
  }
});

/** Answers read on `socket` until it closes, after `requests` are sent pipelined in one write. */
async function pipelined(port: number, requests: string[]): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.write(requests.join(''));
  await closed(socket);
  return got.split('HTTP/1.1 200').length - 1;
}

test('pipelined requests: one answered and 8 waiting are all answered; one more gets those 9 answers, then the connection is closed and logged', async () => {
  const warnings: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (o, msg) => void warnings.push(`${msg}: ${JSON.stringify(o)}`),
  };
  const admin = await AdminServer.open({ host: '127.0.0.1', port: 0, logger }, quietSource);
  const port = admin.address.port;
  const scrape = 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n';
  const last = 'GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
  try {
    assert.equal(await pipelined(port, [...Array<string>(8).fill(scrape), last]), 9, '9 in one write');
    assert.deepEqual(warnings, []);
    assert.equal(await pipelined(port, Array<string>(10).fill(scrape)), 9, '10 in one write');
    assert.match(
      warnings.join('\n'),
      /admin connection refused.*"remote":"127\.0\.0\.1".*more than 8 requests waiting/,
    );
  } finally {
    await admin.close();
  }
});

test('POST /sessions/ID/close: 200 with what ended, 404 for none, 503 when a worker that may hold it did not answer', async () => {
  const asked: string[] = [];
  const admin = await AdminServer.open(
    { host: '127.0.0.1', port: 0, token: 'a-long-enough-token', logger: silentLogger },
    {
      metrics: async () => ({ text: '', contentType: 'text/plain' }),
      accepting: () => true,
      ready: () => true,
      sessions: async () => ({ sessions: [], missingWorkers: [] }),
      closeSession: async (id, by) => {
        asked.push(`${id} ${by}`);
        if (id === 'live') return { ended: [{ id }], missingWorkers: [] };
        return { ended: [], missingWorkers: id === 'elsewhere' ? [2] : [] };
      },
    },
  );
  const post = (id: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${admin.address.port}/sessions/${id}/close`, {
      method: 'POST',
      headers: { authorization: 'Bearer a-long-enough-token' },
    });
  try {
    const ok = await post('live');
    assert.deepEqual([ok.status, await ok.json()], [200, { ended: [{ id: 'live' }], missingWorkers: [] }]);
    assert.equal((await post('gone')).status, 404);
    assert.equal((await post('elsewhere')).status, 503);
    assert.deepEqual(asked, [
      'live admin HTTP from 127.0.0.1',
      'gone admin HTTP from 127.0.0.1',
      'elsewhere admin HTTP from 127.0.0.1',
    ]);
  } finally {
    await admin.close();
  }
});
