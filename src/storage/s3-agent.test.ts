import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { LargeReadAgent, READ_SIZE } from './s3-agent.js';

/** Plain-HTTP responses through LargeReadAgent over real loopback sockets. */

const body = randomBytes(24 * 1024 * 1024 + 777);
let server: http.Server;
let port: number;
const agent = new LargeReadAgent({ keepAlive: true, maxSockets: 1 });

before(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

after(async () => {
  agent.destroy();
  server.close();
  await once(server, 'close');
});

/** One GET through `via`; `sink` reads the body. */
async function get(sink: Writable, via: http.Agent = agent): Promise<{ reused: boolean }> {
  const req = http.get({ host: '127.0.0.1', port, agent: via, path: '/object' });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  await pipeline(res, sink);
  return { reused: req.reusedSocket };
}

describe('an S3 endpoint over plain HTTP, read in large pieces', () => {
  it('a response body arrives whole, in reads larger than Node’s 64 KiB', async () => {
    const chunks: Buffer[] = [];
    await get(
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    assert.ok(Buffer.concat(chunks).equals(body));
    const largest = Math.max(...chunks.map((c) => c.length));
    assert.ok(largest > 64 * 1024 && largest <= READ_SIZE, `largest read ${largest}`);
  });

  it('a reader that keeps up gets every read with no copy of it (short-lived memory drives V8 into full collections)', async () => {
    const from = Buffer.from.bind(Buffer);
    let copied = 0;
    // Counts the agent's copies of its read buffer: Buffer.from of 64 KiB or more.
    Buffer.from = ((...args: Parameters<typeof from>) => {
      const value: unknown = args[0];
      if (value instanceof Uint8Array && value.length >= 64 * 1024) copied++;
      return from(...args);
    }) as typeof Buffer.from;
    const chunks: Buffer[] = [];
    try {
      await get(
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk);
            cb();
          },
        }),
      );
    } finally {
      Buffer.from = from;
    }
    assert.ok(Buffer.concat(chunks).equals(body));
    assert.equal(copied, 0);
  });

  it('a slow reader holds the socket back and still gets every byte, on a reused socket', async () => {
    const chunks: Buffer[] = [];
    const { reused } = await get(
      new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          setImmediate(cb); // one chunk per turn of the event loop: the response pauses
        },
      }),
    );
    assert.equal(reused, true);
    assert.ok(Buffer.concat(chunks).equals(body));
  });

  it('responses on several sockets at once each arrive whole (the sockets share one read buffer)', async () => {
    const several = new LargeReadAgent({ maxSockets: 4 });
    try {
      const bodies = await Promise.all(
        [0, 1, 2, 3].map(async () => {
          const chunks: Buffer[] = [];
          const sink = new Writable({
            write(chunk: Buffer, _enc, cb) {
              chunks.push(chunk);
              cb();
            },
          });
          await get(sink, several);
          return Buffer.concat(chunks);
        }),
      );
      for (const b of bodies) assert.ok(b.equals(body));
    } finally {
      several.destroy();
    }
  });
});
