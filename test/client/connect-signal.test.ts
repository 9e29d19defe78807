/**
 * FerryClient.connect's `signal` cancels every stage of connecting, not only the TCP connect: the
 * TLS handshake (implicit FTPS against a server that never answers), the greeting (explicit) and the
 * login (an authenticator that never decides). Timeouts are set to ten minutes, so only the abort
 * can end the attempt (the test's own timeout catches a hang); the server sees the socket close.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';

import type { Authenticator } from '../../src/auth/types.js';
import { FerryClient } from '../../src/client/client.js';
import { FerryError } from '../../src/errors.js';
import { startFerry, type TestServer } from '../support/ferry.js';
import { optionsOf } from './helpers.js';

const HUGE = 10 * 60_000;
const timeouts = { connectTimeoutMs: HUGE, handshakeTimeoutMs: HUGE, replyTimeoutMs: HUGE };
const isAborted = (err: unknown): boolean => err instanceof FerryError && err.code === 'ERR_ABORTED';

describe('connect({ signal }) cancels connecting at any stage', { timeout: 30_000 }, () => {
  for (const security of ['implicit', 'explicit'] as const) {
    it(`${security}: a server that accepts and stays silent (${security === 'implicit' ? 'TLS handshake' : 'greeting'})`, async () => {
      const ac = new AbortController();
      const sockets: net.Socket[] = [];
      const server = net.createServer((s) => {
        sockets.push(s);
        ac.abort();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as net.AddressInfo).port;
      try {
        await assert.rejects(
          FerryClient.connect({
            host: '127.0.0.1',
            port,
            security,
            user: 'alice',
            password: 'secret',
            signal: ac.signal,
            ...timeouts,
          }),
          isAborted,
        );
        const [s] = sockets;
        assert.ok(s);
        if (!s.closed) await once(s, 'close');
      } finally {
        for (const s of sockets) s.destroy();
        server.close();
      }
    });
  }

  describe('an authenticator that never decides', () => {
    let ts: TestServer;
    let ac: AbortController;
    const pending: Authenticator = {
      // Decides only when the server gives up the login (the client hung up).
      authenticate: (_c, signal) => {
        ac.abort();
        return new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(new Error('login given up')), { once: true });
        });
      },
    };
    after(() => ts?.close());

    for (const security of ['explicit', 'implicit'] as const) {
      it(`${security}: the abort ends the login and the connection`, async () => {
        ts ??= await startFerry({ authenticator: pending });
        ac = new AbortController();
        await assert.rejects(
          FerryClient.connect({ ...(await optionsOf(ts, security)), signal: ac.signal, ...timeouts }),
          isAborted,
        );
      });
    }
  });
});
