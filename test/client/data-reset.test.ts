/**
 * How FerryClient ends a data connection it gives up: with a TCP reset, never a FIN. A FIN looks
 * like a normal end. ProFTPD's mod_tls ends the whole session when it writes again after our FIN
 * (its second write fails with EPIPE: "unexpected OpenSSL error, disconnecting"), which happens
 * whenever we had read everything it had sent when we aborted. And a server reading an upload
 * takes a FIN for its complete end.
 *
 * A scripted implicit FTPS server makes the condition exact: RETR sends a fixed amount of data and
 * then nothing more, so when the client aborts on the last byte, its receive buffer is empty.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';

import { FerryClient, type ClientOptions } from '../../src/client/client.js';
import { FerryError } from '../../src/errors.js';
import { testCertificate } from '../support/ferry.js';
import { DialogueLog } from './helpers.js';
import { ScriptedServer } from './support/scripted-server.js';

/** How the server saw a data connection end. */
type DataEnd = 'FIN' | 'reset' | `error ${string}`;

/** One data connection as the server saw it. */
interface DataSeen {
  readonly end: Promise<DataEnd>;
  received: number;
}

const SENT = 256 * 1024;
const CHUNK = 64 * 1024;

/**
 * An implicit FTPS server: login, SIZE, PROT (P: data connections in TLS, C: plain TCP), EPSV (a
 * one-shot listener), RETR (sends SENT bytes; then `whole…` ends the connection, anything else
 * keeps it open and sends nothing more), STOR (reads), QUIT. Once a data connection has ended, the
 * transfer's reply: 226 after a FIN that completes it (a whole RETR, any STOR), else 426. ABOR:
 * 226 after that reply.
 *
 * FIN or reset: a read may report a reset as an EOF (libuv does, when data was still arriving), so
 * an EOF is followed by a write, as ProFTPD's next write: after a FIN it still goes through (and
 * the server cannot tell the close from a normal end), after a reset it fails.
 */
class DataEndServer extends ScriptedServer {
  readonly data: DataSeen[] = [];

  static async start(): Promise<DataEndServer> {
    return new DataEndServer(await testCertificate()).listen();
  }

  protected session(sock: net.Socket): void {
    let prot: 'P' | 'C' = 'P';
    let passive: PassiveData | undefined;
    let current: DataSeen | undefined;
    this.serve(sock, 'scripted', (verb, arg, reply) => {
      switch (verb) {
        case 'FEAT':
          return reply('211 no features');
        case 'PBSZ':
        case 'TYPE':
          return reply('200 ok');
        case 'PROT':
          prot = arg === 'C' ? 'C' : 'P';
          return reply('200 ok');
        case 'SIZE':
          return reply(`213 ${SENT * 4}`);
        case 'EPSV':
          passive = this.passive(prot, reply);
          return;
        case 'RETR':
        case 'STOR': {
          const p = passive;
          passive = undefined;
          if (!p) return reply('425 no EPSV');
          reply('150 opening');
          const whole = arg.startsWith('whole');
          if (verb === 'RETR') p.send(SENT, whole);
          const seen = p.seen;
          current = seen;
          void seen.end.then((end) => {
            if (current === seen) current = undefined;
            reply(end === 'FIN' && (whole || verb === 'STOR') ? '226 transfer complete' : '426 aborted');
          });
          return;
        }
        case 'ABOR': {
          const seen = current;
          if (!seen) return reply('225 no transfer');
          void seen.end.then(() => reply('226 abort successful'));
          return;
        }
        default:
          return reply('502 not scripted');
      }
    });
  }

  /**
   * EPSV's data connection (TLS for PROT P, TCP for PROT C), watched from the moment it is
   * accepted. `send` writes (and with `end`, ends) once it is there.
   */
  private passive(prot: 'P' | 'C', reply: (text: string) => void): PassiveData {
    const options = { allowHalfOpen: true }; // an EOF must leave the connection writable
    const listener =
      prot === 'P' ? tls.createServer({ ...this.pair, ...options }) : net.createServer(options);
    const event = prot === 'P' ? 'secureConnection' : 'connection';
    let ended: (e: DataEnd) => void = () => {};
    const seen: DataSeen = { end: new Promise((resolve) => (ended = resolve)), received: 0 };
    this.data.push(seen);
    listener.once(event, (s: net.Socket) => {
      let settled = false;
      const settle = (how: DataEnd): void => {
        if (settled) return;
        settled = true;
        ended(how);
        s.destroy();
      };
      s.on('data', (d: Buffer) => (seen.received += d.length));
      s.once('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? err.message;
        settle(code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : `error ${code}`);
      });
      s.once('end', () => {
        if (s.writableEnded) return settle('FIN'); // we had ended it: the client's close answers
        s.write('x', (err) => settle(err ? 'reset' : 'FIN'));
      });
      s.once('close', () => settle('reset')); // closed without an EOF or an error: not a FIN
    });
    const sock = this.epsv(reply, listener, event);
    return {
      seen,
      send: (bytes, end) => {
        void sock.then((s) => {
          s.write(Buffer.alloc(bytes, 7));
          if (end) s.end();
        });
      },
    };
  }
}

interface PassiveData {
  readonly seen: DataSeen;
  send(bytes: number, end: boolean): void;
}

describe('FerryClient ending a data connection it gives up', { timeout: 60_000 }, () => {
  let server: DataEndServer;
  const log = new DialogueLog();

  const connect = (extra: Partial<ClientOptions> = {}): Promise<FerryClient> =>
    server.connect({ log: log.log, ...extra });

  before(async () => {
    server = await DataEndServer.start();
  });

  after(async () => {
    await server?.close();
  });

  it('resets a download aborted after everything sent was read; the session goes on', async () => {
    const client = await connect();
    const ac = new AbortController();
    await assert.rejects(
      client.get('part.bin', drain(), {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.bytes === SENT) ac.abort(); // the last byte the server sent: nothing is in flight
        },
      }),
      (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
    );
    assert.equal(await server.data.at(-1)?.end, 'reset', log.dump());
    assert.ok(!client.closed, `the connection survived ABOR: ${client.closedReason?.message ?? ''}`);
    const next = await client.get('whole.bin', drain());
    assert.equal(next.bytes, SENT, log.dump());
    assert.equal(next.reply?.code, 226);
  });

  it('resets an aborted upload, so the server cannot take it for complete (TLS and clear)', async () => {
    for (const client of [await connect(), await connect({ dataProtection: 'clear' })]) {
      const ac = new AbortController();
      await assert.rejects(
        client.put(chunks(64), 'up.bin', {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.bytes >= 16 * CHUNK) ac.abort();
          },
        }),
        (err: unknown) => err instanceof FerryError && err.code === 'ERR_ABORTED',
      );
      assert.equal(await server.data.at(-1)?.end, 'reset', log.dump());
      assert.ok(!client.closed, `the connection survived ABOR: ${client.closedReason?.message ?? ''}`);
    }
  });

  it('resets when the local side fails: a sink that fails on the last byte, a source that fails', async () => {
    for (const client of [await connect(), await connect({ dataProtection: 'clear' })]) {
      await assert.rejects(client.get('part.bin', failing(SENT)), log.dump());
      assert.equal(await server.data.at(-1)?.end, 'reset', log.dump());
      assert.ok(!client.closed, `the connection survived: ${client.closedReason?.message ?? ''}`);
      await assert.rejects(client.put(failingSource(16), 'up.bin'), log.dump());
      assert.equal(await server.data.at(-1)?.end, 'reset', log.dump());
      assert.ok(!client.closed, `the connection survived: ${client.closedReason?.message ?? ''}`);
    }
  });

  it('a download that ends before the announced size (SIZE) is an error, not a complete file', async () => {
    const client = await connect();
    // The server announces SENT * 4 bytes (SIZE), sends SENT, ends the data connection and says 226.
    await assert.rejects(
      client.get('whole.bin', drain(), { onProgress: () => {} }),
      (err: unknown) =>
        err instanceof FerryError &&
        err.code === 'ERR_DATA_CONNECTION' &&
        err.message.includes(`Partial file: ${SENT} of the ${SENT * 4} bytes`),
    );
    assert.ok(!client.closed);
  });

  it('a size known from a listing is not the announced size: the file may have changed since', async () => {
    const client = await connect();
    // As a mirror passes a listing's size: the file has shrunk since to SENT bytes (150 says no size).
    const r = await client.get('whole.bin', drain(), { size: SENT * 4, onProgress: () => {} });
    assert.equal(r.bytes, SENT);
    assert.equal(r.reply?.code, 226);
  });

  it('ends completed transfers normally (FIN), with and without TLS', async () => {
    for (const client of [await connect(), await connect({ dataProtection: 'clear' })]) {
      const down = await client.get('whole.bin', drain());
      assert.equal(down.bytes, SENT);
      assert.equal(await server.data.at(-1)?.end, 'FIN', log.dump());
      const up = await client.put(chunks(16), 'up.bin');
      assert.equal(up.reply?.code, 226, log.dump());
      const seen = server.data.at(-1);
      assert.equal(await seen?.end, 'FIN', log.dump());
      assert.equal(seen?.received, 16 * CHUNK);
    }
  });
});

/** A sink that discards what it gets. */
function drain(): PassThrough {
  const sink = new PassThrough();
  sink.resume();
  return sink;
}

/** A sink that fails once it has been given `bytes` bytes (as a full disk would). */
function failing(bytes: number): Writable {
  let got = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      got += chunk.length;
      callback(got >= bytes ? new Error('local disk failed') : null);
    },
  });
}

/** `n` chunks of CHUNK bytes, then a read error. */
function failingSource(n: number): Readable {
  let left = n;
  return new Readable({
    read() {
      if (left-- > 0) this.push(Buffer.alloc(CHUNK, 1));
      else this.destroy(new Error('local disk failed'));
    },
  });
}

/** `n` chunks of CHUNK bytes. */
function chunks(n: number): Readable {
  return Readable.from(Array.from({ length: n }, () => Buffer.alloc(CHUNK, 1)));
}
