/**
 * A local failure in the middle of a transfer (a full disk, a closed stdout, the caller's stream
 * failing) aborts it at once with ABOR, as the caller's AbortSignal does, on a server that ends the
 * transfer only when told to. Pure-FTPd, once the client has reset the data connection, sends a
 * 1xx and no final reply until ABOR; the client waited for that reply first, the whole reply
 * timeout, then lost the connection ("No reply after the transfer"), and every later call failed.
 *
 * The scripted implicit FTPS server here does the same: RETR sends without end, STOR reads without
 * end, and neither has a final reply until ABOR, which gets Pure-FTPd's one 226 for both.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { LocalError } from '../../src/client/errors.js';
import { testCertificate } from '../support/ferry.js';
import { DialogueLog } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

/** Far longer than ABOR and its reply take here; waiting it out first loses the connection. */
const REPLY_TIMEOUT_MS = 10_000;
const CHUNK = 64 * 1024;

/** Login, PBSZ/PROT (P: TLS data, C: plain), EPSV, endless RETR and STOR ended by ABOR alone. */
class UntilAborServer extends ScriptedServer {
  static async start(): Promise<UntilAborServer> {
    return new UntilAborServer(await testCertificate()).listen();
  }

  protected session(sock: net.Socket): void {
    let prot: 'P' | 'C' = 'P';
    let passive: Promise<net.Socket> | undefined;
    let transfer: net.Socket | undefined;
    this.serve(sock, 'scripted', (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211 no features');
        case 'PROT':
          prot = arg === 'C' ? 'C' : 'P';
          return reply('200 ok');
        case 'SIZE':
          return reply('550 no size');
        case 'EPSV': {
          const listener = prot === 'P' ? tls.createServer({ ...this.pair }) : net.createServer();
          passive = this.epsv(reply, listener, prot === 'P' ? 'secureConnection' : 'connection');
          return;
        }
        case 'RETR':
        case 'STOR': {
          const p = passive;
          passive = undefined;
          if (!p) return reply('425 no EPSV');
          reply('150 opening');
          void p.then((s) => {
            transfer = s;
            // Pure-FTPd's account of a transfer its client gave up: a 1xx, and nothing final.
            s.once('close', () => {
              if (transfer === s) reply('150 0.01 seconds (measured here)');
            });
            if (verb === 'STOR') return void s.resume();
            const block = Buffer.alloc(CHUNK, 7);
            const send = (): void => {
              while (!s.destroyed && s.write(block));
            };
            s.on('drain', send);
            send();
          });
          return;
        }
        case 'ABOR': {
          const s = transfer;
          transfer = undefined;
          s?.destroy();
          return reply("226 Since you see this ABOR must've succeeded");
        }
        default:
          return reply('200 ok');
      }
    });
  }
}

describe('a local failure during a transfer aborts it at once (ABOR)', { timeout: 30_000 }, () => {
  let server: UntilAborServer;
  const log = new DialogueLog();

  const connect = (extra: Partial<ClientOptions> = {}): Promise<FerryClient> =>
    server.connect({ log: log.log, replyTimeoutMs: REPLY_TIMEOUT_MS, ...extra });

  before(async () => {
    server = await UntilAborServer.start();
  });

  after(async () => {
    await server?.close();
  });

  const isLocal = (message: string) => (err: unknown) => {
    assert.ok(err instanceof LocalError, `not a LocalError: ${String(err)}\n${log.dump()}`);
    assert.equal(err.code, 'ERR_LOCAL');
    assert.match(err.message, new RegExp(message));
    return true;
  };

  for (const dataProtection of ['private', 'clear'] as const) {
    it(`a download into a failing sink and an upload of a failing source (PROT ${dataProtection}): ABOR, the client stays usable`, async () => {
      const client = await connect({ dataProtection });
      const sent = server.commands.length;
      await assert.rejects(client.get('endless.bin', failingSink(4 * CHUNK)), isLocal('local disk failed'));
      assert.ok(server.commands.slice(sent).includes('ABOR'), log.dump());
      assert.ok(!client.closed, `the connection survived: ${client.closedReason?.message ?? ''}`);
      assert.equal((await client.send('NOOP')).code, 200, log.dump());

      const before = server.commands.length;
      await assert.rejects(client.put(failingSource(4), 'up.bin'), isLocal('local source failed'));
      assert.ok(server.commands.slice(before).includes('ABOR'), log.dump());
      assert.ok(!client.closed, `the connection survived: ${client.closedReason?.message ?? ''}`);
      assert.equal((await client.send('NOOP')).code, 200, log.dump());
    });
  }
});

/** A sink that fails once it has been given `bytes` bytes (as a full disk would). */
function failingSink(bytes: number): Writable {
  let got = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      got += chunk.length;
      callback(got >= bytes ? new Error('local disk failed') : null);
    },
  });
}

/** `n` chunks, then a read error. */
function failingSource(n: number): Readable {
  let left = n;
  return new Readable({
    read() {
      if (left-- > 0) this.push(Buffer.alloc(CHUNK, 1));
      else this.destroy(new Error('local source failed'));
    },
  });
}
