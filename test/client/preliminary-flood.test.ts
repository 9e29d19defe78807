/**
 * A server that answers a command with `120 still thinking` for ever: the command fails with
 * ERR_TIMEOUT once the reply timeout has passed since it was sent (before, each 1xx restarted the
 * timer and the call, `ferry ls --timeout 3` too, never ended).
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { FerryError } from '../../src/errors.js';
import { ScriptedServer } from './support/scripted-server.js';

/** Answers CWD with a 120 every 20 ms, never a final reply. */
class ThinkingFtp extends ScriptedServer {
  protected session(sock: net.Socket): void {
    this.serve(sock, 'thinking', (verb, _arg, reply) => {
      if (verb !== 'CWD') return reply(verb === 'FEAT' ? '211 no features' : '200 ok');
      reply('120 still thinking');
      this.every(20, () => reply('120 still thinking'));
    });
  }
}

describe('a stream of 1xx replies', { timeout: 30_000 }, () => {
  let server: ThinkingFtp;
  before(async () => {
    server = await new ThinkingFtp().listen();
  });
  after(() => server?.close());

  it('does not hold a command past the reply timeout: ERR_TIMEOUT, the connection closed', async () => {
    const client = await server.connect({ replyTimeoutMs: 500 });
    await assert.rejects(
      client.cd('dir'),
      (err: unknown) => err instanceof FerryError && err.code === 'ERR_TIMEOUT' && /500 ms/.test(err.message),
    );
    assert.ok(client.closed);
  });
});
