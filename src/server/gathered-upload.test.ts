import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import tls from 'node:tls';
import { generateSelfSigned } from '../tls/certificates.js';
import { EofGuard } from '../tls/eof-guard.js';
import { sendAll } from '../tls/test-support.js';
import { GATHER_BYTES, GatheredUpload } from './gathered-upload.js';

/**
 * Uploads read into a reused buffer and gathered into recycled chunks, over real loopback TLS on
 * the server's EofGuard (itself reading TCP into a reused buffer): the bytes arrive whole and in
 * order whatever the reader's pace, a bare FIN still fails the upload, and giving up leaves the
 * connection to the transfer, which ends it after its reply.
 */

let key: string;
let cert: string;
let server: net.Server;
let port: number;
/** The server side of the next connection, once its handshake is done. */
let accepted: ((sock: tls.TLSSocket) => void) | undefined;

before(async () => {
  ({ key, cert } = await generateSelfSigned('localhost'));
  server = net.createServer((raw) => {
    const sock = EofGuard.tls(raw, { isServer: true, key, cert }, () => false);
    sock.on('error', () => {});
    sock.once('secure', () => accepted?.(sock));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

after(() => server.close());

interface Pair {
  client: tls.TLSSocket;
  /** The server's side. */
  server: tls.TLSSocket;
  clientRaw: net.Socket;
  upload: GatheredUpload;
  counted: () => number;
}

async function connect(): Promise<Pair> {
  const serverSide = new Promise<tls.TLSSocket>((resolve) => (accepted = resolve));
  const clientRaw = net.connect(port, '127.0.0.1');
  await once(clientRaw, 'connect');
  const client = tls.connect({ socket: clientRaw, rejectUnauthorized: false });
  client.on('error', () => {});
  await once(client, 'secureConnect');
  let counted = 0;
  const sock = await serverSide;
  const upload = GatheredUpload.of(sock, (n) => (counted += n));
  assert.ok(upload, 'this Node lets a data connection read into a reused buffer');
  return { client, server: sock, clientRaw, upload, counted: () => counted };
}

/** Reads `upload` to its end, copying each chunk; `each` runs after each one. */
async function readAll(
  upload: GatheredUpload,
  each?: (chunk: Buffer) => Promise<void> | void,
): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of upload as AsyncIterable<Buffer>) {
    chunks.push(Buffer.from(chunk));
    await each?.(chunk);
  }
  return chunks;
}

describe('GatheredUpload', () => {
  it('delivers the upload whole and in order in 256 KiB chunks, every byte counted', async () => {
    const { client, upload, counted } = await connect();
    const data = randomBytes(3 * 1024 * 1024 + 12_345);
    sendAll(client, data);
    const chunks = await readAll(upload);
    assert.ok(Buffer.concat(chunks).equals(data));
    assert.deepEqual(
      chunks.slice(0, -1).map((c) => c.length),
      chunks.slice(0, -1).map(() => GATHER_BYTES),
    );
    assert.equal(counted(), data.length);
  });

  it('reads into the chunks it is handed back instead of new ones', async () => {
    const { client, upload } = await connect();
    const data = randomBytes(8 * 1024 * 1024);
    sendAll(client, data);
    const memory = new Set<ArrayBufferLike>();
    const chunks = await readAll(upload, (chunk) => {
      memory.add(chunk.buffer);
      upload.recycle(chunk);
    });
    assert.ok(Buffer.concat(chunks).equals(data));
    assert.equal(chunks.length, 32);
    assert.ok(memory.size <= 8, `${memory.size} distinct buffers for 32 chunks`);
  });

  it('loses nothing when storage reads slower than the connection delivers (it pauses and reads on)', async () => {
    const { client, upload } = await connect();
    const data = randomBytes(6 * 1024 * 1024 + 7);
    sendAll(client, data);
    const chunks = await readAll(upload, async () => {
      for (let i = 0; i < 20; i++) await setImmediate();
    });
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  it('keeps every byte of small reads that arrive while storage is not reading', async () => {
    const { client, upload } = await connect();
    const data = randomBytes(1536 * 1024);
    // Small records, one at a time: the connection reads them one by one, and they queue up
    // (storage reads nothing yet) where a reused read buffer would overwrite them.
    for (let at = 0; at < data.length; at += 1024) {
      await new Promise<void>((resolve) => client.write(data.subarray(at, at + 1024), () => resolve()));
      await setImmediate();
    }
    client.end();
    const chunks = await readAll(upload);
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  it('ends at once for an empty upload whose connection ended before storage asked for it', async () => {
    const serverSide = new Promise<tls.TLSSocket>((resolve) => (accepted = resolve));
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => client.end());
    client.on('error', () => {});
    const sock = await serverSide;
    sock.resume();
    if (!sock.readableEnded) await once(sock, 'end');
    const upload = GatheredUpload.of(sock, () => {});
    assert.ok(upload);
    assert.deepEqual(await readAll(upload), []);
  });

  it('fails with ERR_ABORTED when the connection ends with a bare FIN (no close_notify)', async () => {
    const { client, clientRaw, upload } = await connect();
    await new Promise<void>((resolve) => client.write(randomBytes(100_000), () => resolve()));
    clientRaw.end(); // TCP FIN under the TLS session, which never sends its close_notify
    await assert.rejects(readAll(upload), (err: NodeJS.ErrnoException) => err.code === 'ERR_ABORTED');
  });

  it('destroyed before its end, leaves the connection to the transfer: no reset, the rest dropped', async () => {
    const { client, server: sock, upload, counted } = await connect();
    const sent = new Promise<void>((resolve, reject) =>
      client.write(randomBytes(4 * 1024 * 1024), (err) => (err ? reject(err) : resolve())),
    );
    const seen: string[] = [];
    client.on('error', (err: NodeJS.ErrnoException) => seen.push(`error ${err.code ?? err.message}`));
    await once(upload, 'readable');
    upload.on('error', () => {}); // storage's pipeline would take it
    upload.destroy(new Error('EIO: i/o error, write'));
    const before = counted();
    assert.equal(sock.destroyed, false, 'the connection was cut before its reply');
    sock.resume(); // as the transfer's end does once its reply is out: the rest is read, and dropped
    await sent;
    client.end();
    await once(sock, 'end');
    assert.equal(counted(), before, 'bytes after the failure went to storage');
    assert.deepEqual(seen, []);
  });
});
