import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, test } from 'node:test';
import { FerryClient } from './client.js';
import { ConnectionError, isTransient } from './errors.js';
import { MIN_RECONNECTS, reopen, type Reconnect } from './pool.js';

/**
 * reopen() after a connection was lost mid-run, against a real port nothing listens on (a server
 * restarting): refusals are tried MIN_RECONNECTS times (1 + 2 + 4 + 8 + 16 s, about 30 s) whatever a
 * smaller `retries` says, as a Ferry restart outlasted --retry 2's 1 s + 2 s. The test stops it at
 * the attempt beyond `retries` (its signal), rather than wait the pauses out.
 */

/** A loopback port that refuses connections: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

const opener = (port: number) => (): Promise<FerryClient> =>
  FerryClient.connect({
    host: '127.0.0.1',
    port,
    security: 'none',
    allowPlain: true,
    user: 'u',
    password: 'p',
  });

const lost = new ConnectionError('The server closed the control connection.');

test('a refused reconnect is tried again beyond --retry 1, up to MIN_RECONNECTS attempts', async () => {
  const port = await closedPort();
  const open = opener(port);
  const stop = new AbortController();
  const seen: Reconnect[] = [];
  await assert.rejects(
    reopen(open, lost, {
      retries: 1,
      transient: isTransient,
      signal: stop.signal,
      onReconnect: (r) => {
        seen.push(r);
        if (r.attempt === 2) stop.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.deepEqual(
    seen.map((r) => `attempt ${r.attempt} of ${r.attempts} after ${r.pauseMs} ms`),
    // One count for the whole reconnect (it said `1 of 1`, then `2 of 5` once refused).
    [`attempt 1 of ${MIN_RECONNECTS} after 1000 ms`, `attempt 2 of ${MIN_RECONNECTS} after 2000 ms`],
  );
  assert.match(String(seen[1]?.error), /ECONNREFUSED/);
});

/**
 * Against a real server answering with a 421: a restart's
 * 421 is waited out as a refused connection is (MIN_RECONNECTS), one saying this client is banned
 * is not tried again (each try scores against it), and one saying there are too many connections
 * counts against `retries` alone. A password answered by a 421 for failed logins is a refused login.
 */

/** A plain FTP server whose greeting is `greeting`; PASS gets `pass`. Closed after the tests. */
async function scripted(greeting: string, pass = '230 in'): Promise<number> {
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.write(`${greeting}\r\n`);
    if (greeting.startsWith('421')) {
      sock.end();
      return;
    }
    sock.setEncoding('utf8');
    sock.on('data', (text: string) => {
      for (const line of text.split('\r\n').filter(Boolean)) {
        const verb = line.split(' ')[0];
        if (verb === 'USER') sock.write('331 password\r\n');
        else if (verb === 'PASS') {
          sock.write(`${pass}\r\n`);
          if (pass.startsWith('421')) sock.end();
        } else sock.write('502 no\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** Reopens (stopped at attempt `stopAt` by the signal), returning the events and the outcome. */
async function reopenAgainst(
  port: number,
  retries: number,
  stopAt: number,
): Promise<{ seen: string[]; error: unknown }> {
  const stop = new AbortController();
  const seen: Reconnect[] = [];
  const error = await reopen(opener(port), lost, {
    retries,
    transient: isTransient,
    signal: stop.signal,
    onReconnect: (r) => {
      seen.push(r);
      if (r.attempt === stopAt) stop.abort();
    },
  }).then(
    () => assert.fail('connected'),
    (err: unknown) => err,
  );
  return { seen: seen.map((r) => `attempt ${r.attempt} of ${r.attempts}`), error };
}

test('a 421 greeting of a server restarting is waited out as a refused connection is', async () => {
  const port = await scripted('421 Server shutting down, try later.');
  const { seen, error } = await reopenAgainst(port, 1, 2);
  assert.deepEqual(seen, [`attempt 1 of ${MIN_RECONNECTS}`, `attempt 2 of ${MIN_RECONNECTS}`]);
  assert.equal((error as Error).name, 'AbortError');
});

test('a 421 greeting saying the address is banned is not tried again, and says so', async () => {
  const port = await scripted('421 Service not available: this address is temporarily banned.');
  const { seen, error } = await reopenAgainst(port, 5, 2);
  assert.deepEqual(seen, [`attempt 1 of ${MIN_RECONNECTS}`]);
  assert.match((error as Error).message, /421 .*temporarily banned.*not retried/);
  assert.equal(isTransient(error), false);
});

test('a 421 greeting saying there are too many connections counts against retries alone', async () => {
  const port = await scripted('421 Too many connections from your address (at most 2), try later.');
  const { seen, error } = await reopenAgainst(port, 1, 2);
  assert.deepEqual(seen, [`attempt 1 of ${MIN_RECONNECTS}`]);
  assert.match((error as Error).message, /421 Too many connections/);
});

test('a password answered by a 421 for failed logins is a refused login', async () => {
  const port = await scripted('220 hello', '421 Too many failed logins, closing.');
  await assert.rejects(opener(port)(), { name: 'LoginError', message: /421 Too many failed logins/ });
});
