/**
 * A reconnect to a server that greeted before and now says nothing (frozen, as with SIGSTOP): the
 * error says it stopped answering, not that the URL may name the wrong mode (`use ftps://`), which
 * is only a likely cause for a server never heard from.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EXIT } from '../../src/cli/client-exit-codes.js';
import { ferry } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

/** The first session greets and ends with a 421 at RETR; every later connection gets no greeting. */
class FreezingFtp extends ScriptedServer {
  private sessions = 0;
  protected session(sock: net.Socket): void {
    if (this.sessions++ > 0) return; // accepted, never answered
    this.serve(sock, 'about to freeze', (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211 no features');
        case 'TYPE':
          return reply('200 ok');
        case 'SIZE':
          return reply('213 3');
        case 'MDTM':
          return reply('213 20240102030405');
        case 'EPSV':
          return reply('421 going away');
        default:
          return reply('502 not scripted');
      }
    });
  }
}

describe('a reconnect to a server that stopped answering', () => {
  let server: FreezingFtp;
  let dir: string;
  before(async () => {
    server = await new FreezingFtp().listen();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-frozen-'));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says it greeted before, with no hint at ftps://', async () => {
    const url = `ftp://u@127.0.0.1:${server.port}/f.txt`;
    const r = await ferry(
      ['get', '--allow-plain', '--timeout', '1', '--retry', '1', url, path.join(dir, 'f.txt')],
      { FERRY_PASSWORD: 'p' },
    );
    assert.equal(r.code, EXIT.connection, r.stderr);
    // The most attempts (a refusal would get MIN_RECONNECTS); the silence ends them at --retry 1.
    assert.match(r.stderr, /reconnecting in 1 s \(attempt 1 of 5\)/);
    assert.doesNotMatch(r.stderr, /attempt 2/);
    assert.match(
      r.stderr,
      /^ferry: No greeting from 127\.0\.0\.1:\d+ within 1000 ms \(connectTimeoutMs\); it greeted an earlier connection of this run: the server has stopped answering\.$/m,
    );
    assert.doesNotMatch(r.stderr, /use ftps:\/\//);
  });
});
