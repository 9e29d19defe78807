/**
 * A TCP proxy between Ferry and the S3 gateway that can fail on demand, for the error paths a real
 * gateway does not produce at will: `cut()` destroys every connection in flight (the gateway gone
 * mid-transfer), `slowDown(true)` answers every request 503 SlowDown (an overloaded gateway).
 */
import net from 'node:net';

export interface FaultProxy {
  readonly endpoint: string;
  /** Requests answered 503 SlowDown so far. */
  readonly slowedDown: number;
  cut(): void;
  slowDown(on: boolean): void;
  close(): Promise<void>;
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const url = new URL(target);
  const sockets = new Set<net.Socket>();
  let slow = false;
  let slowedDown = 0;
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
    upstream.pipe(client);
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
      for (const s of sockets) s.destroy();
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
