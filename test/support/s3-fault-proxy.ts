/**
 * A TCP proxy between Ferry and the S3 gateway that can fail on demand, for the error paths a real
 * gateway does not produce at will: `cut()` destroys every connection in flight (the gateway gone
 * mid-transfer), `slowDown(true)` answers every request 503 SlowDown (an overloaded gateway),
 * `stallAfter(n)` forwards only n more bytes of responses, then holds the rest (so that a `cut()`
 * surely comes mid-object, whatever the kernel's socket buffers could have taken in meanwhile),
 * `refuse(match, n)` answers the next n requests whose request line matches 500 InternalError
 * (a gateway that fails one request: e.g. one UploadPart, its body still on the way), or with
 * `status` 400, 400 InvalidArgument (a request the gateway refuses for good), `gone(true)` resets
 * every connection, those in flight and each new one (a gateway whose host went down).
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
  refuse(requestLine: RegExp, times: number, status?: 500 | 400): void;
  gone(on: boolean): void;
  /** Requests answered by refuse() so far. */
  readonly refused: number;
  close(): Promise<void>;
}

const INTERNAL =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>';

const INVALID =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>Invalid argument.</Message></Error>';

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const url = new URL(target);
  const sockets = new Set<net.Socket>();
  let slow = false;
  let slowedDown = 0;
  let budget: number | undefined; // bytes of responses still forwarded during a stall
  let refusal: { match: RegExp; left: number; status: 500 | 400 } | undefined;
  let refused = 0;
  let gone = false;
  const server = net.createServer((client) => {
    if (gone) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
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
    let answered = false; // this connection's request was refused: the rest of its body is dropped
    client.on('data', (chunk: Buffer) => {
      if (answered) return;
      // A request starts a chunk: the client sends it only once the previous response is in.
      if (refusal && refusal.left > 0 && refusal.match.test(chunk.subarray(0, 1024).toString('latin1'))) {
        refusal.left--;
        refused++;
        answered = true;
        upstream.removeAllListeners('close');
        upstream.destroy();
        const [line, body] =
          refusal.status === 400 ? ['400 Bad Request', INVALID] : ['500 Internal Server Error', INTERNAL];
        client.end(
          `HTTP/1.1 ${line}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    client.on('end', () => upstream.end());
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
    get refused() {
      return refused;
    },
    refuse(requestLine, times, status = 500) {
      refusal = { match: requestLine, left: times, status };
    },
    cut() {
      budget = undefined;
      for (const s of sockets) s.destroy();
    },
    stallAfter(bytes) {
      budget = bytes;
    },
    gone(on) {
      gone = on;
      if (on) for (const s of sockets) s.resetAndDestroy();
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
