// PassivePorts leaves no timer behind (a file of its own: no other test's timers in this process).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { Logger } from '../logger.js';
import { PassivePorts } from './passive-ports.js';

/** Timers that keep the process up, counted as the e2e leak check (assertNoLeaks) counts them. */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

test('a request waiting on a port held elsewhere: close() stops looking again, and once it ends no timer is left', async () => {
  // Another process holds the only port (as another cluster worker would).
  const other = net.createServer();
  await new Promise<void>((resolve) =>
    other.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve),
  );
  const { port } = other.address() as net.AddressInfo;
  let waiting!: () => void;
  const waits = new Promise<void>((resolve) => (waiting = resolve));
  const log = (_obj: object, msg = ''): void => {
    if (msg === 'passive port: none free, waiting') waiting();
  };
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  const before = timers();
  const ports = new PassivePorts(port, port, undefined, { logger });
  const stop = new AbortController();
  const owner = { address: '127.0.0.1', user: 'u' };
  const reserved = ports.reserve('127.0.0.1', owner, (raw) => raw.destroy(), {
    ms: 120_000,
    signal: stop.signal,
  });
  try {
    await waits;
    ports.close(); // the server stops (or a reload replaced the range)
    assert.equal(timers(), before + 1, "after close(): only the request's own deadline");
    stop.abort(); // its session ends
    await assert.rejects(reserved, { code: 'ERR_ABORTED' });
    assert.equal(timers(), before, `timers left: ${process.getActiveResourcesInfo().join(', ')}`);
  } finally {
    stop.abort();
    await reserved.catch(() => {});
    await new Promise((resolve) => other.close(resolve));
  }
});
