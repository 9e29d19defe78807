/**
 * The server's session ends during an upload (ProFTPD's session process killed): the control
 * connection closes, the data connection is given up under a write in progress, and the error says
 * so, not Node's `Cannot call write after a stream was destroyed`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FerryError } from '../../src/errors.js';
import { randomFile } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

/** Takes STOR, and once its first bytes arrive stops reading them and closes the control connection. */
class DyingSessionFtp extends ScriptedServer {
  protected session(sock: net.Socket): void {
    let data: Promise<net.Socket> | undefined;
    this.serve(sock, 'dies during uploads', (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211 no features');
        case 'TYPE':
          return reply('200 ok');
        case 'EPSV':
          data = this.epsv(reply);
          return;
        case 'STOR':
          reply('150 go on');
          void data?.then((d) =>
            d.once('data', () => {
              d.pause();
              sock.destroy();
            }),
          );
          return;
        default:
          return reply('502 not scripted');
      }
    });
  }
}

describe('an upload whose server session dies', () => {
  let server: DyingSessionFtp;
  let dir: string;
  before(async () => {
    server = await new DyingSessionFtp().listen();
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-dying-'));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("fails with the control connection's loss, not Node's text", async () => {
    const file = path.join(dir, 'big.bin');
    await randomFile(file, 32 * 1024 * 1024);
    const client = await server.connect();
    await assert.rejects(client.put(file, 'big.bin'), (err: unknown) => {
      assert.ok(err instanceof FerryError, String(err));
      assert.doesNotMatch(err.message, /after a stream was destroyed/);
      assert.equal(err.code, 'ERR_CLOSED', err.message);
      return true;
    });
  });
});
