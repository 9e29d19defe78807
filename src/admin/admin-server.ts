import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type * as net from 'node:net';
import { coalesced } from '../coalesced.js';
import { addressKind, normalizeAddress } from '../protocol/address.js';
import type { Logger } from '../logger.js';
import {
  ADMIN_CONNECTION_LIMITS,
  ADMIN_TIMEOUTS,
  limitConnections,
  oneAtATime,
  refusalLog,
  type AdminConnectionLimits,
  type AdminTimeouts,
  type Refused,
} from './admin-connections.js';

/** What the admin listener reports; the process that runs the server answers (cli/serve.ts). */
export interface AdminSource {
  /** The Prometheus exposition text and its content type. */
  metrics(): Promise<{ text: string; contentType: string }>;
  /** The FTPS listeners accept connections (/healthz). */
  accepting(): boolean;
  /** Started, serving (a worker is ready) and not stopping (/readyz). */
  ready(): boolean;
  /** Every control connection now, served as JSON (/sessions; its shape: server/session-report.ts). */
  sessions(): Promise<object>;
  /** Ends session `id` (POST /sessions/ID/close), `by` asking: what ended, and the workers not asked. */
  closeSession(id: string, by: string): Promise<ClosedSessions>;
}

/** What closeSession ended (none: no such session) and the workers that did not answer. */
export interface ClosedSessions {
  readonly ended: readonly object[];
  readonly missingWorkers: readonly number[];
}

/** POST /sessions/ID/close: the id as GET /sessions lists it (a UUID). */
const CLOSE_PATH = /^\/sessions\/([0-9A-Za-z-]{1,64})\/close$/;

export interface AdminOptions {
  host: string;
  port: number;
  /**
   * When set, /metrics and /sessions need `Authorization: Bearer TOKEN` (the health endpoints do
   * not). Without it, /sessions (user names, addresses, paths) answers only on a loopback listener,
   * and there /metrics and /sessions answer only a loopback Host (DNS rebinding).
   */
  token?: string;
  logger: Logger;
  /** Default ADMIN_CONNECTION_LIMITS (tests lower them). */
  limits?: AdminConnectionLimits;
  /** Default ADMIN_TIMEOUTS (tests shorten them). */
  timeouts?: AdminTimeouts;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The admin HTTP listener: `GET /metrics` (Prometheus text), `GET /healthz` (200 while the
 * listeners accept, else 503), `GET /readyz` (200 while serving, 503 while starting or stopping),
 * `GET /sessions` (JSON: who is connected and doing what, as ftpwho shows it). Off unless
 * configured; meant for loopback or a management network.
 */
export class AdminServer {
  private constructor(
    private readonly server: http.Server,
    readonly address: net.AddressInfo,
  ) {}

  static async open(options: AdminOptions, source: AdminSource): Promise<AdminServer> {
    const expected = options.token === undefined ? undefined : digest(options.token);
    const local = isLoopback(options.host);
    if (!expected && !local) {
      options.logger.warn(
        { host: options.host },
        'admin listener not on loopback and without admin.token: /metrics is open to whoever reaches it, /sessions refused',
      );
    }
    const guard: Guard = {
      expected,
      // Someone guessing the token, or a scraper given the wrong one: said, but not once per try.
      unauthorized: refusalLog(options.logger, 'admin request refused: wrong or missing token'),
      sessionsOpen: expected !== undefined || local,
      hostChecked: expected === undefined && local,
    };
    // However many scrapes come at once, one gather (of every worker's, with --workers) runs.
    const shared: AdminSource = {
      ...source,
      metrics: coalesced(source.metrics),
      sessions: coalesced(source.sessions),
    };
    const limits = options.limits ?? ADMIN_CONNECTION_LIMITS;
    const refused = refusalLog(options.logger);
    const timeouts = options.timeouts ?? ADMIN_TIMEOUTS;
    const server = http.createServer(
      {
        headersTimeout: timeouts.headersMs,
        requestTimeout: timeouts.requestMs,
        connectionsCheckingInterval: timeouts.checkEveryMs,
      },
      oneAtATime(limits.maxQueued, refused, (req, res) => handle(req, res, shared, guard, options.logger)),
    );
    server.setTimeout(timeouts.idleMs);
    limitConnections(server, limits, refused);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => options.logger.error({ err: err.message }, 'admin listener error'));
    return new AdminServer(server, server.address() as net.AddressInfo);
  }

  /** Stops listening and closes the connections it has (scrapers keep theirs alive). */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }
}

/** A loopback address (or `localhost`): only this host's users reach a listener there. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || addressKind(host) === 'loopback';
}

/**
 * A Host header naming a loopback name or address, with or without a port (`localhost:9900`,
 * `127.0.0.1`, `[::1]:9900`), or none (browsers always send one).
 */
export function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::\d*)?$/.exec(host);
  const name = m?.[1] ?? m?.[2];
  return name !== undefined && name !== '' && isLoopback(name.toLowerCase());
}

interface Guard {
  /** The token's digest, when one is set. */
  expected: Buffer | undefined;
  /** Logs a request refused for its token (rate-limited). */
  unauthorized: Refused;
  /** /sessions tells who is connected: with a token, or only to this host (a loopback listener). */
  sessionsOpen: boolean;
  /**
   * No token on a loopback listener: /metrics and /sessions answer only a Host that names this host,
   * not a web page whose name was rebound to 127.0.0.1 (DNS rebinding) in a browser here.
   */
  hostChecked: boolean;
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  source: AdminSource,
  guard: Guard,
  logger: Logger,
): Promise<void> {
  const { expected, sessionsOpen, hostChecked } = guard;
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const send = (status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const close = CLOSE_PATH.exec(path);
  if (close) return closeSession(req, close[1] ?? '', send, source, guard, logger);
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(405, 'Method not allowed.\n', { allow: 'GET, HEAD' });
  const guarded = path === '/metrics' || path === '/sessions';
  if (guarded && expected && !authorized(req.headers.authorization, expected)) {
    return unauthorized(req, path, send, guard.unauthorized);
  }
  if (guarded && hostChecked && !loopbackHost(req.headers.host)) {
    return send(
      403,
      'Refused: the Host header names no loopback address; use localhost or 127.0.0.1, or set admin.token.\n',
    );
  }
  switch (path) {
    case '/healthz':
      return source.accepting() ? send(200, 'ok\n') : send(503, 'not accepting connections\n');
    case '/readyz':
      return source.ready() ? send(200, 'ready\n') : send(503, 'not ready\n');
    case '/metrics': {
      try {
        const { text, contentType } = await source.metrics();
        return send(200, text, { 'content-type': contentType });
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'metrics scrape failed');
        return send(500, 'Metrics unavailable.\n');
      }
    }
    case '/sessions': {
      if (!sessionsOpen) {
        return send(
          403,
          'Refused: /sessions names users and their addresses; set admin.token, or listen on loopback.\n',
        );
      }
      try {
        const report = await source.sessions();
        return send(200, JSON.stringify(report) + '\n', {
          'content-type': 'application/json; charset=utf-8',
        });
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'session list failed');
        return send(500, 'Sessions unavailable.\n');
      }
    }
    default:
      return send(404, 'Not found: try /metrics, /sessions, /healthz or /readyz.\n');
  }
}

type Send = (status: number, body: string, headers?: http.OutgoingHttpHeaders) => void;

/**
 * POST /sessions/ID/close: a state change, so only with admin.token set and given (never on the
 * token-less loopback exception that reading /sessions has: any local user, or a page, could post).
 */
async function closeSession(
  req: http.IncomingMessage,
  id: string,
  send: Send,
  source: AdminSource,
  { expected, unauthorized: refused }: Guard,
  logger: Logger,
): Promise<void> {
  if (req.method !== 'POST')
    return send(405, 'Method not allowed: POST to close a session.\n', { allow: 'POST' });
  if (!expected) return send(403, 'Refused: closing a session needs admin.token set.\n');
  if (!authorized(req.headers.authorization, expected)) {
    return unauthorized(req, 'POST /sessions/ID/close', send, refused);
  }
  req.resume(); // a body, if any, means nothing
  let closed: ClosedSessions;
  try {
    closed = await source.closeSession(id, `admin HTTP from ${req.socket.remoteAddress ?? '?'}`);
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'closing a session failed');
    return send(500, 'Session not closed: the server failed.\n');
  }
  const json = { 'content-type': 'application/json; charset=utf-8' };
  if (closed.ended.length > 0) return send(200, JSON.stringify(closed) + '\n', json);
  // Not found, unless a worker that did not answer may hold it.
  if (closed.missingWorkers.length > 0) return send(503, JSON.stringify(closed) + '\n', json);
  return send(404, `No session ${id} (it may have ended).\n`);
}

/** 401, logged with the peer's address, the path and whether a token was given at all. */
function unauthorized(req: http.IncomingMessage, path: string, send: Send, refused: Refused): void {
  const given = req.headers.authorization === undefined ? 'no token' : 'wrong token';
  refused(normalizeAddress(req.socket.remoteAddress ?? ''), `${path}: ${given}`);
  send(401, 'Bearer token required.\n', { 'www-authenticate': 'Bearer realm="ferry"' });
}

/**
 * `Bearer TOKEN`: the scheme in any case (RFC 7235 2.1), the token compared by digest in constant
 * time, so that it cannot be guessed byte by byte.
 */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = header === undefined ? null : /^bearer +(.*)$/i.exec(header);
  return m !== null && timingSafeEqual(digest(m[1] ?? ''), expected);
}
