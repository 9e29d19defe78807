/**
 * A TCP proxy between Ferry and the S3 gateway that can fail on demand, for the error paths a real
 * gateway does not produce at will: `cut()` destroys every connection in flight (the gateway gone
 * mid-transfer), `slowDown(true)` answers every request 503 SlowDown (an overloaded gateway),
 * `stallAfter(n)` forwards only n more bytes of responses, then holds the rest (so that a `cut()`
 * surely comes mid-object, whatever the kernel's socket buffers could have taken in meanwhile).
 */
import net from 'node:net';

export interface FaultProxy {
  readonly endpoint: string;
  /** Requests answered 503 SlowDown so far. */
  readonly slowedDown: number;
  /** Also ends a stall. */
  cut(): void;
  slowDown(on: boolean): void;
  stallAfter(bytes: number): void;
  close(): Promise<void>;
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const url = new URL(target);
  const sockets = new Set<net.Socket>();
  let slow = false;
  let slowedDown = 0;
  let budget: number | undefined; // bytes of responses still forwarded during a stall
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (slow) {
      client.once('data', () => {
        slowedDown++;
        client.end(
          `HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: ${SLOW_DOWN.length}\r\nConnection: close\r\n\r\n${SLOW_DOWN}`,
        );
      });
      return;
    }
    const upstream = net.connect(Number(url.port), url.hostname);
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (budget !== undefined) {
        chunk = chunk.subarray(0, budget);
        budget -= chunk.length;
        if (budget === 0) upstream.pause(); // held until cut
      }
      if (chunk.length > 0 && !client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => budget !== 0 && upstream.resume());
      }
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get slowedDown() {
      return slowedDown;
    },
    cut() {
      budget = undefined;
      for (const s of sockets) s.destroy();
    },
    stallAfter(bytes) {
      budget = bytes;
    },
    slowDown(on) {
      slow = on;
      if (on) for (const s of sockets) s.destroy(); // kept-alive connections would bypass it
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
