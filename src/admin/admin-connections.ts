import type http from 'node:http';
import type net from 'node:net';

export interface AdminConnectionLimits {
  /** Pipelined requests waiting on one connection; one more closes it. */
  maxQueued: number;
}

export const ADMIN_CONNECTION_LIMITS: AdminConnectionLimits = {
  maxQueued: 8,
};

interface Line {
  waiting: number;
  last: Promise<void>;
}

/**
 * Answers a connection's pipelined requests one at a time, each once the previous response has
 * been handed to the system: a client that does not read its answers holds the next ones back
 * instead of making them pile up in memory, and one that queues more than `maxQueued` is closed.
 */
export function oneAtATime(
  maxQueued: number,
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const lines = new WeakMap<net.Socket, Line>();
  return (req, res) => {
    const socket = req.socket;
    const line = lines.get(socket) ?? { waiting: 0, last: Promise.resolve() };
    lines.set(socket, line);
    if (++line.waiting > maxQueued) {
      socket.destroy();
      return;
    }
    // 'close': sent in full, or the connection is gone.
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    line.last = line.last.then(async () => {
      try {
        if (socket.destroyed) return;
        await handle(req, res);
        await closed;
      } catch {
        socket.destroy(); // a failure no answer was sent for: the next would wait for ever
      } finally {
        line.waiting--;
      }
    });
  };
}
