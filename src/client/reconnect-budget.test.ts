import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
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

test('a refused reconnect is tried again beyond --retry 1, up to MIN_RECONNECTS attempts', async () => {
  const port = await closedPort();
  const open = (): Promise<FerryClient> =>
    FerryClient.connect({
      host: '127.0.0.1',
      port,
      security: 'none',
      allowPlain: true,
      user: 'u',
      password: 'p',
    });
  const stop = new AbortController();
  const seen: Reconnect[] = [];
  const lost = new ConnectionError('The server closed the control connection.');
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
