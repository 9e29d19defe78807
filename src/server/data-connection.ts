import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { normalizeAddress, sameHost } from '../protocol/address.js';
import { EofGuard } from '../tls/eof-guard.js';
import { handshake } from '../tls/handshake.js';
import type { PassivePorts } from './passive-ports.js';

/**
 * Which way a transfer's bytes go, seen from the server. Under TLS it decides how the engine runs:
 * sending, natively on the TCP handle (fast; the client judges the end of what it receives);
 * receiving, over the EofGuard, the only way to tell close_notify from a bare FIN.
 */
export type Direction = 'send' | 'receive';

/**
 * An open data connection, TLS or clear, ready for one transfer. When receiving under TLS, a peer
 * that closes without close_notify makes `stream` fail (ERR_ABORTED) instead of ending.
 */
export interface DataSocket {
  readonly stream: Duplex;
  readonly secure: boolean;
  destroy(): void;
}

/** What a data connection needs to know about its control connection. */
export interface DataPolicy {
  /** The control connection's peer: the only address a data connection may involve. */
  readonly peerAddress: string;
  readonly localAddress: string;
  /** Protection level at the moment the connection opens (PROT P → TLS). */
  readonly protect: () => { readonly context: tls.SecureContext; readonly sessions: net.Server } | undefined;
  readonly requireSessionReuse: boolean;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

export interface DataEndpoint {
  /** Resolves with the ready connection (TLS done), or rejects with ERR_DATA_CONNECTION / ERR_TLS. */
  open(signal: AbortSignal, direction: Direction): Promise<DataSocket>;
  close(): void;
}

/**
 * How long an accepted passive connection waits for the transfer command before its TLS handshake
 * starts anyway, over the EofGuard, which serves either direction. Clients that send the command
 * first never wait; curl sends its ClientHello first and the command about 200 ms later (every
 * peer server answers that ClientHello only after the command); a client that waits for the
 * handshake before it sends the command waits this long.
 */
const DIRECTION_GRACE_MS = 500;

/**
 * PASV/EPSV: listens and accepts one connection from the control peer only. TLS starts once the
 * transfer command says which way the bytes go (a ClientHello sent earlier waits in the socket's
 * buffer), or after DIRECTION_GRACE_MS.
 */
export class PassiveEndpoint implements DataEndpoint {
  private ready: Promise<DataSocket> | undefined;
  private waiters: ((r: Promise<DataSocket>) => void)[] = [];
  private readonly idleTimer: NodeJS.Timeout;
  private socket: DataSocket | undefined;
  private closed = false;
  /** Settles once: the transfer's direction, or 'either' after the grace period. */
  private readonly direction: Promise<Direction | 'either'>;
  private choose: (d: Direction | 'either') => void = () => {};
  private graceTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly policy: DataPolicy,
  ) {
    this.direction = new Promise((resolve) => (this.choose = resolve));
    server.on('connection', (raw: net.Socket) => this.onConnection(raw));
    // Nobody connected in time: give the port back. A later transfer command gets 425 at once.
    this.idleTimer = setTimeout(() => this.expire(), policy.connectTimeoutMs);
  }

  static async create(ports: PassivePorts, policy: DataPolicy): Promise<PassiveEndpoint> {
    const server = await ports.listen(normalizeAddress(policy.localAddress));
    const { port } = server.address() as net.AddressInfo;
    return new PassiveEndpoint(server, port, policy);
  }

  private onConnection(raw: net.Socket): void {
    raw.on('error', () => {});
    if (this.ready || this.closed || !sameHost(raw.remoteAddress ?? '', this.policy.peerAddress)) {
      this.policy.logger.warn(
        { from: raw.remoteAddress, expected: this.policy.peerAddress },
        'data connection refused: not from the control connection peer',
      );
      raw.destroy();
      return;
    }
    clearTimeout(this.idleTimer);
    this.server.close();
    this.graceTimer = setTimeout(() => this.choose('either'), DIRECTION_GRACE_MS);
    this.ready = prepare(raw, this.policy, this.direction);
    this.ready.then(
      (s) => (this.closed ? s.destroy() : (this.socket = s)),
      () => {},
    );
    for (const w of this.waiters) w(this.ready);
    this.waiters = [];
  }

  private expire(): void {
    this.server.close();
    this.policy.logger.info({ port: this.port }, 'passive port closed: nobody connected in time');
    if (this.ready) return;
    this.ready = Promise.reject(
      new FerryError('ERR_DATA_CONNECTION', 'Nobody connected to the passive port in time.'),
    );
    this.ready.catch(() => {});
    for (const w of this.waiters) w(this.ready);
    this.waiters = [];
  }

  open(signal: AbortSignal, direction: Direction): Promise<DataSocket> {
    clearTimeout(this.graceTimer);
    this.choose(direction);
    const arrived =
      this.ready ?? new Promise<Promise<DataSocket>>((resolve) => this.waiters.push(resolve)).then((p) => p);
    return withDeadline(arrived, this.policy.connectTimeoutMs, signal);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.graceTimer);
    this.server.close();
    this.socket?.destroy();
    this.ready?.then(
      (s) => s.destroy(),
      () => {},
    );
  }
}

/** PORT/EPRT: connects to the client's address (already checked to be the control peer). */
export class ActiveEndpoint implements DataEndpoint {
  private raw: net.Socket | undefined;
  private socket: DataSocket | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly policy: DataPolicy,
  ) {}

  open(signal: AbortSignal, direction: Direction): Promise<DataSocket> {
    const raw = net.connect({ host: this.host, port: this.port });
    this.raw = raw;
    raw.on('error', () => {});
    const connected = new Promise<DataSocket>((resolve, reject) => {
      raw.once('connect', () => prepare(raw, this.policy, direction).then(resolve, reject));
      raw.once('error', (err) =>
        reject(new FerryError('ERR_DATA_CONNECTION', `Active connection failed: ${err.message}`)),
      );
    });
    connected.then(
      (s) => (this.socket = s),
      () => raw.destroy(),
    );
    return withDeadline(connected, this.policy.connectTimeoutMs, signal);
  }

  close(): void {
    this.socket?.destroy();
    this.raw?.destroy();
  }
}

async function prepare(
  raw: net.Socket,
  policy: DataPolicy,
  direction: Direction | Promise<Direction | 'either'>,
): Promise<DataSocket> {
  raw.setNoDelay(true);
  raw.setTimeout(policy.idleTimeoutMs, () => raw.destroy());
  const protection = policy.protect();
  if (!protection) return { stream: raw, secure: false, destroy: () => raw.destroy() };
  const options = { isServer: true, secureContext: protection.context, server: protection.sessions };
  const sock =
    (await untilKnown(direction, raw)) === 'send'
      ? nativeTls(raw, options, policy.idleTimeoutMs)
      : EofGuard.tls(raw, options);
  try {
    await handshake(sock, 'server', policy.handshakeTimeoutMs);
  } catch (err) {
    sock.on('error', () => {});
    sock.destroy();
    policy.logger.warn({ err: (err as Error).message }, 'data connection TLS handshake failed');
    throw new FerryError('ERR_TLS', 'TLS negotiation on the data connection failed.', { cause: err });
  }
  sock.on('error', () => {});
  if (policy.requireSessionReuse && !sock.isSessionReused()) {
    policy.logger.warn(
      { from: raw.remoteAddress },
      'data connection refused: it did not resume the control TLS session',
    );
    sock.destroy();
    throw new FerryError('ERR_TLS', 'Data connection must resume the TLS session of the control connection.');
  }
  return { stream: sock, secure: true, destroy: () => sock.destroy() };
}

/** The direction once known; rejects if the connection goes first. */
function untilKnown<D>(direction: D | Promise<D>, raw: net.Socket): Promise<D> {
  if (!(direction instanceof Promise)) return Promise.resolve(direction);
  return new Promise((resolve, reject) => {
    const gone = (): void =>
      reject(new FerryError('ERR_DATA_CONNECTION', 'Data connection closed before the transfer.'));
    raw.once('close', gone);
    direction.then((d) => (raw.off('close', gone), resolve(d)), reject);
  });
}

/** TLS on the TCP handle itself; the raw socket sees no traffic after this, so the idle timer moves. */
function nativeTls(raw: net.Socket, options: tls.TLSSocketOptions, idleTimeoutMs: number): tls.TLSSocket {
  raw.setTimeout(0);
  const sock = new tls.TLSSocket(raw, options);
  sock.setTimeout(idleTimeoutMs, () => sock.destroy());
  return sock;
}

function withDeadline<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(new FerryError('ERR_ABORTED', 'Transfer aborted.'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new FerryError('ERR_DATA_CONNECTION', 'Data connection was not opened in time.'));
    }, ms);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (done(), resolve(v)),
      (e: unknown) => (done(), reject(e)),
    );
  });
}
