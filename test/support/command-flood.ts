/**
 * A client that pipelines commands without waiting for their replies: `count` unknown commands
 * `QQ0`, `QQ1`…, each answered `500 Unknown command QQ<i>.`, so that the order of the replies can be
 * checked. Never logs in (in clear on an explicit port, or TLS from the first byte).
 */
import net from 'node:net';
import tls from 'node:tls';
import { socketClosed, withDeadline } from './raw-ftp.js';

export interface Flooder {
  readonly socket: net.Socket;
  /** The index of each `500 Unknown command QQ<i>.` reply, as it arrived. */
  readonly answered: number[];
  /** Every line the server sent after the greeting. */
  readonly lines: string[];
  /** Resolves once `n` commands have been answered. */
  until(n: number): Promise<void>;
  close(): Promise<void>;
}

export interface FloodOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (an implicit port). */
  readonly tls: boolean;
  readonly localAddress?: string;
  readonly count: number;
}

/** Connects, reads the greeting, then sends all `count` commands at once. */
export async function floodCommands(o: FloodOptions): Promise<Flooder> {
  const options = {
    host: o.host,
    port: o.port,
    ...(o.localAddress !== undefined && { localAddress: o.localAddress }),
  };
  const socket = o.tls ? tls.connect({ ...options, rejectUnauthorized: false }) : net.connect(options);
  socket.on('error', () => {});
  const answered: number[] = [];
  const lines: string[] = [];
  let partial = '';
  let waiter: { n: number; resolve: () => void } | undefined;
  let greeted!: () => void;
  const greeting = new Promise<void>((resolve) => (greeted = resolve));
  socket.on('data', (d: Buffer) => {
    const parts = (partial + d.toString('latin1')).split('\r\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line.startsWith('220 ')) {
        greeted();
        continue;
      }
      lines.push(line);
      const m = /^500 Unknown command QQ(\d+)\.$/.exec(line);
      if (m) answered.push(Number(m[1]));
    }
    if (waiter && answered.length >= waiter.n) waiter.resolve();
  });
  await withDeadline(greeting, 10_000, 'the greeting');
  socket.write(Array.from({ length: o.count }, (_, i) => `QQ${i}\r\n`).join(''));
  return {
    socket,
    answered,
    lines,
    until: (n) =>
      answered.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve })),
    close: async () => {
      socket.destroy();
      await socketClosed(socket);
    },
  };
}
