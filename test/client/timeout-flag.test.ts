/**
 * `--timeout` longer than a timer holds (2^31 - 1 ms, about 24.8 days) is a usage error (exit 2),
 * for `ferry probe` and the client commands alike: Node would fire such a timer after 1 ms, and the
 * command would give up at once, saying it waited 2147484000 ms.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { probeCli } from '../support/probe.js';
import { ferry } from './helpers.js';

describe('--timeout past what a timer holds', { timeout: 60_000 }, () => {
  // Accepts and never greets: a timeout of 1 ms gives up on it at once (no wait either way).
  const silent = net.createServer((s) => s.on('error', () => {}));
  const sockets = new Set<net.Socket>();
  let url: string;
  before(async () => {
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    url = `ftpes://u:p@127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('ferry probe: usage error', async () => {
    const r = await probeCli([url, '--timeout', '2147484']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.match(r.stderr, /--timeout.*at most 2147483 seconds/);
  });

  it('ferry ls: usage error', async () => {
    const r = await ferry(['ls', url, '--timeout', '2147484']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.match(r.stderr, /--timeout.*at most 2147483 seconds/);
  });
});
