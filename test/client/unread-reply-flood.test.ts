/**
 * A server that floods the control connection with replies no command asked for (while the client
 * waits for none: between calls, an idle pooled connection): they were queued without limit, each
 * kept until the next command discarded them. Past a bound the connection is closed with an error
 * saying why, rather than memory growing with whatever the server sends.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { FerryError } from '../../src/errors.js';
import { DialogueLog } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

/** Answers SITE FLOOD with its reply and then `count` more (and closes); anything else with 200. */
class FloodingFtp extends ScriptedServer {
  count = 0;
  closing = true;

  protected session(sock: net.Socket): void {
    this.serve(sock, 'flooding', (verb, arg, reply) => {
      if (verb === 'FEAT') return reply('211 no features');
      if (verb !== 'SITE' || arg !== 'FLOOD') return reply('200 ok');
      reply(`200 flood follows${'\r\n200 unasked'.repeat(this.count)}`);
      // The close comes after the flood: a client that took it all sees only the close.
      if (this.closing) sock.end();
    });
  }
}

describe('replies no command asked for', { timeout: 30_000 }, () => {
  let server: FloodingFtp;
  const log = new DialogueLog();
  before(async () => {
    server = await new FloodingFtp().listen();
  });
  after(() => server?.close());

  it('a flood of them closes the connection saying so', async () => {
    server.count = 5000;
    const client = await server.connect({ log: log.log });
    assert.equal((await client.send('SITE FLOOD')).code, 200);
    await assert.rejects(client.send('NOOP'), (err: unknown) => {
      assert.ok(err instanceof FerryError, String(err));
      assert.equal(err.code, 'ERR_PROTOCOL', err.message);
      assert.match(err.message, /more than \d+ replies that no command asked for/);
      return true;
    });
  });

  it('a few of them are ignored, as before', async () => {
    server.count = 3;
    server.closing = false;
    const client = await server.connect({ log: log.log });
    assert.equal((await client.send('SITE FLOOD')).code, 200);
    // Both 200: whichever the unasked ones were taken for, the connection stays usable.
    assert.equal((await client.send('NOOP')).code, 200);
    assert.equal((await client.send('NOOP')).code, 200);
    assert.equal(client.closed, false);
  });
});
