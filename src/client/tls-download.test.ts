import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateSelfSigned } from '../tls/certificates.js';
import { FileSink } from './local-file.js';
import { readIntoReusedBuffer } from '../tls/reused-read-buffer.js';
import { sendAll } from '../tls/test-support.js';
import { receiveToFile } from './tls-download.js';

/**
 * TLS downloads into a file through one reused buffer, over real loopback TLS: the bytes land whole
 * and in order whatever the sink does (synchronous writes, the thread pool, a full disk), and a
 * failure on either side fails the download and closes both.
 */

/** What the server does with each connection once its handshake is done. */
let serve: (c: tls.TLSSocket) => void = () => {};
let server: tls.Server;
let port: number;
let dir: string;

before(async () => {
  const pair = await generateSelfSigned('localhost');
  server = tls.createServer({ key: pair.key, cert: pair.cert }, (c) => {
    c.on('error', () => {});
    serve(c);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-tls-download-'));
});

after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/** A client TLS socket on a TCP socket of its own, as a data connection's (data-tls.ts). */
async function connect(): Promise<tls.TLSSocket> {
  const raw = net.connect(port, '127.0.0.1');
  await once(raw, 'connect');
  const sock = tls.connect({ socket: raw, rejectUnauthorized: false });
  await once(sock, 'secureConnect');
  return sock;
}

describe('TLS downloads into a file through one reused buffer', () => {
  it('hands every record over in the same buffer, and nothing as data events', async () => {
    const data = randomBytes(1024 * 1024 + 333);
    serve = (c: tls.TLSSocket) => sendAll(c, data);
    const sock = await connect();
    const seen = new Set<Buffer>();
    const parts: Buffer[] = [];
    let events = 0;
    sock.on('data', () => events++);
    assert.equal(
      readIntoReusedBuffer(sock, (n, buf) => {
        seen.add(buf);
        parts.push(Buffer.from(buf.subarray(0, n)));
        return true;
      }),
      true,
    );
    await once(sock, 'end');
    sock.destroy();
    assert.equal(seen.size, 1);
    assert.equal(events, 0);
    assert.ok(Buffer.concat(parts).equals(data));
  });

  for (const [how, o] of [
    ['synchronous writes', {}],
    ['writes turning to the thread pool (a slow disk)', { slowWriteMs: -1 }],
    ['thread-pool writes from the start', { threaded: true }],
  ] as const) {
    it(`the file holds the whole download in order, with its bytes counted (${how})`, async () => {
      const data = randomBytes(3 * 1024 * 1024 + 4321);
      serve = (c: tls.TLSSocket) => sendAll(c, data);
      const sock = await connect();
      const file = path.join(dir, `whole-${Object.keys(o).join('') || 'sync'}.bin`);
      const sink = new FileSink(file, o);
      let bytes = 0;
      const done = receiveToFile(sock, sink, (n) => (bytes += n));
      assert.ok(done, 'the reused buffer is available on this Node');
      await done;
      sock.destroy();
      assert.equal(bytes, data.length);
      assert.ok((await readFile(file)).equals(data));
      if ('slowWriteMs' in o) assert.equal(sink.threaded, true);
    });
  }

  it('records that arrived before the switch come first', async () => {
    const head = randomBytes(100);
    const rest = randomBytes(200 * 1024);
    serve = (c) => {
      c.write(head);
      c.once('data', () => sendAll(c, rest));
    };
    const sock = await connect();
    // Wait until the head waits in the socket's Readable, then stop listening for it.
    while (sock.readableLength === 0) await once(sock, 'readable');
    sock.removeAllListeners('readable');
    await new Promise(setImmediate);
    const file = path.join(dir, 'head-first.bin');
    const done = receiveToFile(sock, new FileSink(file), () => {});
    sock.write('go');
    await done;
    sock.destroy();
    assert.ok((await readFile(file)).equals(Buffer.concat([head, rest])));
  });

  it('a full disk fails the download with its error and closes the connection', async () => {
    serve = (c: tls.TLSSocket) => sendAll(c, randomBytes(2 * 1024 * 1024));
    const sock = await connect();
    const sink = new FileSink('/dev/full');
    await assert.rejects(receiveToFile(sock, sink, () => {}) ?? Promise.resolve(), { code: 'ENOSPC' });
    assert.equal(sock.destroyed, true);
    assert.equal(sink.destroyed, true);
  });

  it('a connection given up mid-download fails it; the file keeps what was received', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    serve = (c: tls.TLSSocket) => sendAll(c, data);
    const sock = await connect();
    const file = path.join(dir, 'cut.bin');
    const sink = new FileSink(file);
    let bytes = 0;
    const stop = new Error('given up');
    const done = receiveToFile(sock, sink, (n) => {
      bytes += n;
      if (bytes >= 64 * 1024 && !sock.destroyed) sock.destroy(stop);
    });
    await assert.rejects(done ?? Promise.resolve(), stop);
    if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve));
    const kept = await readFile(file);
    assert.ok(kept.length >= 64 * 1024 && kept.length <= bytes);
    assert.ok(kept.equals(data.subarray(0, kept.length)));
  });
});
