import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Logger } from '../logger.js';
import { normalizeAddress } from '../protocol/address.js';

export interface AdminConnectionLimits {
  /** Connections open at once: the primary's descriptors are the FTPS listeners' first. */
  maxConnections: number;
  /** Connections open at once from one address. */
  maxPerAddress: number;
  /** Pipelined requests waiting on one connection; one more closes it. */
  maxQueued: number;
}

export const ADMIN_CONNECTION_LIMITS: AdminConnectionLimits = {
  maxConnections: 64,
  maxPerAddress: 16,
  maxQueued: 8,
};

/** How long an admin connection may take before it is closed (tests shorten them). */
export interface AdminTimeouts {
  /** From a request's first byte (or the connection) to its complete headers: then a 408 and close. */
  headersMs: number;
  /** For a whole request, headers and body. */
  requestMs: number;
  /** How often those two are checked: a connection can outlive them by this much. */
  checkEveryMs: number;
  /** Nothing moving either way: a client that stops reading its answers holds the connection this long. */
  idleMs: number;
}

/** A connection that sends nothing, or half a request, is closed within seconds. */
export const ADMIN_TIMEOUTS: AdminTimeouts = {
  headersMs: 5_000,
  requestMs: 10_000,
  checkEveryMs: 1_000,
  idleMs: 30_000,
};

/**
 * Caps the admin listener's connections, in all and per address (refusals logged through
 * `refused`, rate-limited), so that a flood of them cannot use up the descriptors the FTPS
 * listeners need.
 */
export function limitConnections(server: http.Server, limits: AdminConnectionLimits, refused: Refused): void {
  server.maxConnections = limits.maxConnections;
  server.on('drop', (d?: { remoteAddress?: string }) =>
    refused(normalizeAddress(d?.remoteAddress ?? ''), `${limits.maxConnections} connections open`),
  );
  const open = new Map<string, number>();
  server.on('connection', (socket: net.Socket) => {
    const remote = normalizeAddress(socket.remoteAddress ?? '');
    const n = (open.get(remote) ?? 0) + 1;
    if (n > limits.maxPerAddress) {
      refused(remote, `${limits.maxPerAddress} connections open from this address`);
      socket.destroy();
      return;
    }
    open.set(remote, n);
    socket.once('close', () => {
      const left = (open.get(remote) ?? 1) - 1;
      if (left > 0) open.set(remote, left);
      else open.delete(remote);
    });
  });
}

/** Logs a refused or closed admin connection: `remote`, and why. */
export type Refused = (remote: string, why: string) => void;

/**
 * A flood's refusals: the first of each kind logged, then one line a minute at most, with a count.
 * `msg`: what was refused (a connection; a request without the admin token).
 */
export function refusalLog(logger: Logger, msg = 'admin connection refused'): Refused {
  const kinds = new Map<string, { at: number; since: number }>();
  return (remote, why) => {
    const now = Date.now();
    const kind = kinds.get(why);
    if (kind && now - kind.at < 60_000) {
      kind.since++;
      return;
    }
    logger.warn({ remote, why, ...(kind ? { refusedSince: kind.since } : {}) }, msg);
    kinds.set(why, { at: now, since: 0 });
  };
}

interface Line {
  /** Requests taken and not answered yet: the one being answered and those waiting behind it. */
  pending: number;
  /** Too many came: those taken are answered, then the connection is closed. */
  closing: boolean;
  last: Promise<void>;
}

/** How long a connection closed for too many requests has to take its last answers and close. */
const CLOSING_LINGER_MS = 2_000;

/**
 * Answers a connection's pipelined requests one at a time, each once the previous response has
 * been handed to the system: a client that does not read its answers holds the next ones back
 * instead of making them pile up in memory. A request that comes while `maxQueued` wait behind the
 * one being answered is dropped: those taken are answered, then the connection is closed (logged
 * through `refused`).
 */
export function oneAtATime(
  maxQueued: number,
  refused: Refused,
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const lines = new WeakMap<net.Socket, Line>();
  return (req, res) => {
    const socket = req.socket;
    const line = lines.get(socket) ?? { pending: 0, closing: false, last: Promise.resolve() };
    lines.set(socket, line);
    if (line.closing) return;
    if (line.pending > maxQueued) {
      line.closing = true;
      refused(normalizeAddress(socket.remoteAddress ?? ''), `more than ${maxQueued} requests waiting`);
      socket.pause(); // nothing more is read: what follows would be dropped too
      line.last = line.last.then(() => closeAfterAnswers(socket));
      return;
    }
    line.pending++;
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
        line.pending--;
      }
    });
  };
}

/**
 * Ends a connection once its answers have been handed to the system: a FIN after them (closing at
 * once with requests unread would reset the connection, and the client could lose them), then the
 * socket is gone when the client closes, or after CLOSING_LINGER_MS.
 */
function closeAfterAnswers(socket: net.Socket): void {
  if (socket.destroyed) return;
  socket.end();
  const linger = setTimeout(() => socket.destroy(), CLOSING_LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
