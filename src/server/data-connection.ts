import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { DataConnectionError, FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ActiveRoute } from '../protocol/active-route.js';
import { sameHost } from '../protocol/address.js';
import { FTP_ALPN } from '../tls/alpn.js';
import { EofGuard } from '../tls/eof-guard.js';
import { handshake } from '../tls/handshake.js';
import { notResumedBecause, offeredNoSession, offeredSessions } from '../tls/client-hello.js';
import { captureClientHello, readClientHello } from '../tls/hello-capture.js';
import { connectFailure, connectTimedOut, nobodyConnected } from './connect-failure.js';
import { endGracefully } from './graceful-end.js';
import { IdleWatch, type StallWatch } from './idle-watch.js';
import type { SessionFamily, Siblings } from '../tls/session-cache.js';
import type { DataRefusal } from './metrics.js';
import type { PassiveOwner, PassivePorts, PassiveReservation, PortsBusy } from './passive-ports.js';

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
  /** The transfer is over: close_notify (TLS) and FIN after what is queued; the peer's close ends it. */
  close(): void;
  destroy(): void;
  /** The data idle timeout, told whether storage holds the transfer up (an embedder's socket: none). */
  readonly idle?: StallWatch;
}

/** What a data connection needs to know about its control connection. */
export interface DataPolicy {
  /** The control connection's peer: the only address a data connection may involve. */
  readonly peerAddress: string;
  readonly localAddress: string;
  /**
   * The protection level now (PROT P → TLS within this session family; undefined: clear). Read when
   * a connection opens, and again at the transfer: a passive connection made under another level is
   * not used. Throws when it cannot be had (PROT P without TLS): never clear instead.
   */
  readonly protect: () => SessionFamily | undefined;
  /** Asked once the handshake ends: must it have resumed a session of the family (or a sibling's)? */
  readonly requireSessionReuse: () => boolean;
  /** Other families it may resume (--session-reuse-scope user: the user's from this address). */
  readonly siblings?: Siblings;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
  /** Told of each data TLS handshake and each refused connection (metrics). */
  readonly observer?: DataObserver;
  /**
   * Takes a connection not used yet (curl's, its ClientHello sent before its transfer command) when
   * the transfer is refused, to leave it for its client to close (LingeringData); without it, cut.
   */
  readonly linger?: (raw: net.Socket) => void;
  /**
   * Takes a connection whose transfer is over, to end it (endGracefully: `stream` ended, `owner`
   * holding its TCP handle) within the server's bounds (LingeringData); without it, endGracefully.
   */
  readonly ended?: (stream: Duplex, owner: net.Socket) => void;
}

export interface DataObserver {
  tls(version: string | null, resumed: boolean): void;
  refused(reason: DataRefusal): void;
}

export interface DataEndpoint {
  /**
   * A transfer command arrived and works before its 150 (opens its file, reads its listing's first
   * page): until started() or open(), that time is the server's, not the client's (see PassiveEndpoint).
   * Returns what to call once the command is over.
   */
  preparing?(): () => void;
  /**
   * The transfer command arrived and says which way the data goes. Resolves once a connection
   * whose ClientHello already arrived is ready or refused (at once when there is none): the 150
   * then follows the TLS session ticket that connection is issued, which clients that read an
   * upload connection only when closing it (curl) need for the next one.
   */
  started(direction: Direction): Promise<void>;
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
/** Event-loop turns to wait for a data connection's ClientHello that may arrive with its command. */
const STARTED_TURNS = 3;
/** At most this long for OpenSSL to issue a TLS 1.3 data connection's tickets (it does at once). */
const TICKET_WAIT_MS = 1_000;
/**
 * Connections from the client's address a passive port holds at once before its transfer: a client
 * opens one; more are turned away, else one session's silent connects (each held through the
 * direction grace and the handshake timeout) took a descriptor each, without limit.
 */
export const MAX_WAITING_CONNECTIONS = 4;
/**
 * After a connection died before its handshake completed, how long the port waits for another
 * before the transfer gets that failure: a client connects right after the 227/229, so a neighbour's
 * connect-and-close does not end its transfer, while a client whose own handshake failed hears so
 * in seconds, not at the passive timeout.
 */
const FAILED_GRACE_MS = 2_000;

/**
 * PASV/EPSV: listens and accepts connections from the control peer only. TLS starts once the
 * transfer command says which way the bytes go (a ClientHello sent earlier waits in the socket's
 * buffer), or after DIRECTION_GRACE_MS. A connection that completes a handshake without resuming
 * this client's TLS session is refused; when it offered a session (anyone behind the same address
 * could connect first, or a sibling's), the port keeps waiting for the client's own; when it offered
 * none (a client that cannot resume), the wait ends at once. One that dies before its handshake
 * completes (closed, reset, not TLS, timed out) is dropped and the wait goes on for FAILED_GRACE_MS:
 * anyone behind the client's address can connect and hang up, and that must not end the client's
 * transfer; with no other connection by then, the transfer gets that failure.
 */
export class PassiveEndpoint implements DataEndpoint {
  private outcome: Promise<DataSocket> | undefined;
  private waiters: ((r: Promise<DataSocket>) => void)[] = [];
  private readonly handshaking = new Map<net.Socket, Promise<unknown>>();
  /** Connections whose client sent bytes (its ClientHello) before our reply to the transfer command. */
  private readonly spokeFirst = new WeakSet<net.Socket>();
  /** Bytes of a connection read as its PROXY header: not its client's. */
  private readonly proxyBytes = new WeakMap<net.Socket, number>();
  /** Why the last connection was refused: the reply when the client's own never comes. */
  private refusal: FerryError | undefined;
  private idleTimer: NodeJS.Timeout;
  /** A transfer command works before its 150 (preparing() until started() or open()). */
  private commandPreparing = false;
  private socket: DataSocket | undefined;
  /** The protection `socket` was made under (undefined: clear), checked against the transfer's. */
  private madeUnder: SessionFamily | undefined;
  private closed = false;
  /** Settles once: the transfer's direction, or 'either' after the grace period. */
  private readonly direction: Promise<Direction | 'either'>;
  private choose: (d: Direction | 'either') => void = () => {};
  private graceTimer: NodeJS.Timeout | undefined;
  /** Runs while the last connection to fail waits for another (FAILED_GRACE_MS). */
  private failedTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly reservation: PassiveReservation,
    private readonly policy: DataPolicy,
  ) {
    this.direction = new Promise((resolve) => (this.choose = resolve));
    // Nobody connected in time: give the port back. A later transfer command gets 425 at once.
    this.idleTimer = setTimeout(() => this.expire(), policy.connectTimeoutMs);
  }

  get port(): number {
    return this.reservation.port;
  }

  /**
   * A pending transfer on a passive port (shared with other clients' addresses, see PassivePorts):
   * connections from the control peer's address come here. `signal`: the control connection closed
   * while waiting for a port; `waiting`: told when every port is taken and the request waits.
   */
  static async create(
    ports: PassivePorts,
    policy: DataPolicy,
    owner: PassiveOwner,
    signal?: AbortSignal,
    waiting?: (busy: PortsBusy) => void,
  ): Promise<PassiveEndpoint> {
    const made: { endpoint?: PassiveEndpoint } = {};
    const reservation = await ports.reserve(
      policy.localAddress,
      owner,
      (raw, client, proxyBytes) =>
        made.endpoint ? made.endpoint.onConnection(raw, client, proxyBytes) : raw.destroy(),
      { ms: policy.connectTimeoutMs, signal, ...(waiting && { waiting }) },
    );
    made.endpoint = new PassiveEndpoint(reservation, policy);
    // The control connection closed while the port was being bound: nobody will take this endpoint
    // (the session let go of its data endpoint already), so it must not wait out its timeout.
    if (signal?.aborted) {
      made.endpoint.close();
      throw new FerryError('ERR_ABORTED', 'Connection closed.');
    }
    return made.endpoint;
  }

  /** `client`: the connection's source (behind a trusted proxy, the one its PROXY header names). */
  private onConnection(raw: net.Socket, client: string, proxyBytes: number): void {
    raw.on('error', () => {});
    this.proxyBytes.set(raw, proxyBytes);
    // Behind a trusted proxy: the client its PROXY header names, and the proxy (as the connect line).
    const peer: Peer = proxyBytes > 0 ? { from: client, via: raw.remoteAddress } : { from: client };
    if (this.outcome || this.closed || !sameHost(client, this.policy.peerAddress)) {
      this.policy.logger.warn(
        { ...peer, expected: this.policy.peerAddress },
        'data connection refused: not from the control connection peer',
      );
      this.policy.observer?.refused('foreign-address');
      raw.destroy();
      return;
    }
    if (this.handshaking.size >= MAX_WAITING_CONNECTIONS) {
      this.policy.logger.warn(
        { ...peer, max: MAX_WAITING_CONNECTIONS },
        'data connection refused: too many connections from the client already wait on this passive port',
      );
      this.policy.observer?.refused('too-many');
      raw.destroy();
      return;
    }
    if (!this.commandPreparing)
      this.graceTimer ??= setTimeout(() => this.choose('either'), DIRECTION_GRACE_MS);
    const attempt = prepare(
      raw,
      peer,
      this.policy,
      this.direction,
      () => !this.spokeFirst.has(raw),
      () => this.commandPreparing,
    );
    this.handshaking.set(raw, attempt);
    attempt.then(
      (attempt) => {
        this.handshaking.delete(raw);
        if (attempt.kind === 'refused') {
          this.refusal = attempt.reason;
          // From the client's address and offering no session: a client that cannot resume
          // (stock ftplib): waiting for the passive timeout would be waiting for nothing (vsftpd: 522 too).
          if (attempt.final && !this.outcome && !this.closed) this.decide(Promise.reject(attempt.reason));
        } else if (this.outcome || this.closed) attempt.socket.destroy();
        else {
          this.socket = attempt.socket;
          this.madeUnder = attempt.family;
          this.decide(Promise.resolve(attempt.socket), true);
        }
      },
      (err: unknown) => {
        // Died before its handshake completed: maybe not the client's (see the class comment).
        // Dropped; the wait goes on for FAILED_GRACE_MS, then the transfer gets this failure.
        this.handshaking.delete(raw);
        // Already cut by decide(), or left for its client to close by close().
        if (this.outcome || this.closed) return;
        raw.destroy();
        if (err instanceof FerryError) this.refusal = err;
        this.policy.logger.info(
          { ...peer, err: err instanceof Error ? err.message : String(err) },
          "data connection dropped before its TLS handshake completed: still waiting for the client's",
        );
        clearTimeout(this.failedTimer);
        this.failedTimer = setTimeout(() => {
          if (!this.outcome && !this.closed && this.handshaking.size === 0) this.decide(Promise.reject(err));
        }, FAILED_GRACE_MS);
      },
    );
  }

  /**
   * The wait is over (a connection, or a failure): stop listening for this client (after a
   * connection, the port may stay open for its next PASV/EPSV); tell the transfer.
   */
  private decide(outcome: Promise<DataSocket>, connected = false): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.graceTimer);
    clearTimeout(this.failedTimer);
    this.reservation.release(connected);
    for (const raw of this.handshaking.keys()) raw.destroy();
    outcome.catch(() => {});
    this.outcome = outcome;
    for (const w of this.waiters) w(outcome);
    this.waiters = [];
  }

  private expire(): void {
    if (this.outcome) return;
    // A connection came and its transfer command is still at work before its 150: the command
    // time limit bounds that, not this one (whose 425 would say nobody connected).
    if (this.commandPreparing && this.handshaking.size > 0) {
      this.idleTimer = setTimeout(() => this.expire(), this.policy.connectTimeoutMs);
      return;
    }
    this.policy.logger.info({ port: this.port }, 'passive port closed: nobody connected in time');
    this.decide(Promise.reject(this.timeoutError()));
  }

  private timeoutError(): FerryError {
    return this.refusal ?? nobodyConnected(this.policy.connectTimeoutMs);
  }

  private setDirection(direction: Direction): void {
    this.commandPreparing = false;
    clearTimeout(this.graceTimer);
    this.choose(direction);
  }

  /**
   * The connections wait for the 150 (storage may take long: a paused gateway) without their TLS
   * starting: a client that starts it only after the 150 (ftplib) is not timed meanwhile, and one
   * that sent its ClientHello (curl) has it read at the 150; their handshake time starts then. Nor
   * is their data idle time running. The command time limit (and close()) bounds the wait.
   */
  preparing(): () => void {
    if (this.outcome || this.closed) return () => {};
    this.commandPreparing = true;
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    const idle = this.socket?.idle;
    if (idle) idle.pacing = () => this.commandPreparing;
    // The command ended without its transfer (refused before storage: 530, 501): as before it.
    return () => {
      if (!this.commandPreparing) return;
      this.commandPreparing = false;
      if (this.handshaking.size > 0)
        this.graceTimer ??= setTimeout(() => this.choose('either'), DIRECTION_GRACE_MS);
    };
  }

  async started(direction: Direction): Promise<void> {
    this.setDirection(direction);
    // A client that starts TLS before its command (curl) may have its connection and ClientHello
    // ready in the same event-loop turn as the command: let them be accepted and read first.
    // A PROXY header is not the client speaking: a client that waits for our 150 before its
    // ClientHello (Python's ftplib) would otherwise be waited for until the handshake deadline.
    const spoke = (raw: net.Socket): boolean => raw.bytesRead > (this.proxyBytes.get(raw) ?? 0);
    const quiet = (): boolean => !this.outcome && ![...this.handshaking.keys()].some(spoke);
    for (let turn = 0; turn < STARTED_TURNS && quiet(); turn++) await new Promise(setImmediate);
    const begun = [...this.handshaking].filter(([raw]) => spoke(raw));
    for (const [raw] of begun) this.spokeFirst.add(raw);
    await Promise.allSettled(begun.map(([, p]) => p));
  }

  open(signal: AbortSignal, direction: Direction): Promise<DataSocket> {
    this.setDirection(direction);
    const arrived =
      this.outcome ??
      new Promise<Promise<DataSocket>>((resolve) => this.waiters.push(resolve)).then((p) => p);
    const usable = arrived.then((socket) => this.sameProtection(socket));
    return withDeadline(usable, this.policy.connectTimeoutMs, signal, () => this.timeoutError());
  }

  /**
   * A connection made before PROT changed (clear before PROT P, TLS before PROT C) is not used:
   * the transfer would go unprotected (or its upload's ClientHello be stored). Nothing is read or
   * written on it; close() ends it after the reply.
   */
  private sameProtection(socket: DataSocket): DataSocket {
    if (this.policy.protect() === this.madeUnder) return socket;
    this.policy.logger.warn(
      { secure: socket.secure },
      'data connection not used: the protection level (PROT) changed since it opened',
    );
    throw new DataConnectionError('the protection level changed since it opened; send PASV or EPSV again');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.graceTimer);
    clearTimeout(this.failedTimer);
    // Connections not used yet, their ClientHello maybe unread (curl's, sent before a command then
    // refused; unread until the direction is known, so a connection that sent nothing cannot be
    // told from one that did): left for their client to close, neither reset nor ended, within
    // the server's bounds (LingeringData).
    const unused = [...this.handshaking.keys()];
    this.handshaking.clear();
    for (const raw of unused) {
      if (this.policy.linger) this.policy.linger(raw);
      else raw.destroy();
    }
    if (!this.outcome) this.decide(Promise.reject(new FerryError('ERR_ABORTED', 'Transfer aborted.')));
    this.socket?.close();
  }
}

/**
 * PORT/EPRT: connects to the client's address (already checked to be the control peer), from the
 * address the route names (activeRoute: the control connection's own). It connects at the transfer,
 * so its protection is the transfer's: no PROT can come between.
 */
export class ActiveEndpoint implements DataEndpoint {
  private raw: net.Socket | undefined;
  private socket: DataSocket | undefined;

  constructor(
    private readonly route: ActiveRoute,
    private readonly port: number,
    private readonly policy: DataPolicy,
  ) {}

  started(): Promise<void> {
    return Promise.resolve(); // we connect after the 150
  }

  open(signal: AbortSignal, direction: Direction): Promise<DataSocket> {
    const { host, localAddress } = this.route;
    const raw = net.connect({ host, port: this.port, ...(localAddress !== undefined && { localAddress }) });
    this.raw = raw;
    raw.on('error', () => {});
    const connected = new Promise<DataSocket>((resolve, reject) => {
      raw.once('connect', () =>
        prepare(raw, { from: host }, this.policy, direction, () => false).then(
          (a) => (a.kind === 'ready' ? resolve(a.socket) : reject(a.reason)),
          reject,
        ),
      );
      raw.once('error', (err) => reject(connectFailure(err)));
    });
    connected.then(
      (s) => (this.socket = s),
      () => raw.destroy(),
    );
    const ms = this.policy.connectTimeoutMs;
    return withDeadline(connected, ms, signal, () => connectTimedOut(ms));
  }

  close(): void {
    if (this.socket) this.socket.close();
    else this.raw?.destroy();
  }
}

/** 'refused', `final`: it offered no TLS session at all, so the client has no other to offer. */
/** 'ready', `family`: the protection it was made under (undefined: clear). */
type Attempt =
  | { kind: 'ready'; socket: DataSocket; family: SessionFamily | undefined }
  | { kind: 'refused'; reason: FerryError; final: boolean };

/** Who a data connection is from, as logged: the client, and the trusted proxy it came through. */
interface Peer {
  readonly from: string;
  readonly via?: string;
}

/**
 * Makes a connection ready for a transfer: TLS under PROT P, which must resume a session of the
 * control connection's family. An upload whose client began TLS only after our 150 (lftp) gets its
 * session tickets with our close_notify, since such a client may never read the connection (see
 * EofGuard.tls); one that began before (curl) reads once before closing and needs them at once. Rejects when the connection dies or its handshake fails;
 * 'refused' when it completed without resuming (someone else's connection, or a client that does
 * not reuse sessions).
 */
async function prepare(
  raw: net.Socket,
  peer: Peer,
  policy: DataPolicy,
  direction: Direction | Promise<Direction | 'either'>,
  spokeAfterReply: () => boolean,
  /** Its transfer command works before its 150 (PassiveEndpoint.preparing): not idle. */
  commandPreparing: () => boolean = () => false,
): Promise<Attempt> {
  raw.setNoDelay(true);
  const idle = new IdleWatch(raw, policy.idleTimeoutMs, policy.logger);
  idle.pacing = commandPreparing;
  // One handshake deadline from the connection's start: each stage below gets only what is left of
  // it (reading the ClientHello and the handshake each had the whole of it: twice the timeout).
  const budget = { since: Date.now(), limitMs: policy.handshakeTimeoutMs };
  const left = (): number => Math.max(0, budget.since + budget.limitMs - Date.now());
  const family = policy.protect();
  if (!family) {
    const destroy = (): void => void raw.destroy();
    // Not destroyed: what the client still sends (a refused upload's bytes) would make it a reset.
    const close = (): void => (idle.stop(), ended(policy, raw, raw));
    return { kind: 'ready', socket: { stream: raw, secure: false, close, destroy, idle }, family };
  }
  const known = await untilKnown(direction, raw);
  // Known from the transfer command (at its 150): the time before, the client may have spent
  // waiting for that 150 (ftplib starts TLS after it), or we for storage. The grace's 'either'
  // (no command yet) keeps the budget from the accept: an idle connection stays bounded.
  if (known !== 'either') budget.since = Date.now();
  const native = known === 'send';
  // The session a data connection resumes is named in its ClientHello: read it on its way to the engine.
  let hello: () => Buffer;
  if (native) {
    const bytes = await readClientHello(raw, left()).catch(() => {
      throw new DataConnectionError('closed before the transfer');
    });
    hello = () => bytes;
  } else hello = captureClientHello(raw);
  const sessions = family.dataHub(hello, policy.siblings);
  const options = { isServer: true, secureContext: family.context, server: sessions.hub, ...FTP_ALPN };
  const sock = native
    ? new tls.TLSSocket(raw, options)
    : EofGuard.tls(raw, options, () => known === 'receive' && spokeAfterReply());
  // Natively the TLS socket owns the TCP handle: the raw socket sees no traffic after this.
  if (native) idle.follow(sock);
  try {
    await handshake(sock, 'server', budget, native ? undefined : raw);
  } catch (err) {
    sessions.settle(false);
    sock.on('error', () => {});
    sock.destroy();
    raw.destroy();
    policy.logger.warn({ err: (err as Error).message }, 'data connection TLS handshake failed');
    policy.observer?.tls(null, false);
    policy.observer?.refused('tls-failed');
    throw new FerryError('ERR_TLS', 'TLS negotiation on the data connection failed.', { cause: err });
  }
  sock.on('error', () => {});
  const resumed = sock.isSessionReused();
  sessions.settle(resumed);
  policy.observer?.tls(sock.getProtocol(), resumed);
  if (!resumed && policy.requireSessionReuse()) {
    const offered = offeredSessions(hello());
    const protocol = sock.getProtocol();
    policy.logger.warn(
      { ...peer, because: notResumedBecause(offered, protocol) },
      'data connection refused: it did not resume the control TLS session',
    );
    policy.observer?.refused('no-session-reuse');
    sock.destroy();
    raw.destroy();
    const reason = new FerryError(
      'ERR_TLS',
      'Data connection must resume the TLS session of the control connection.',
    );
    return { kind: 'refused', reason, final: offeredNoSession(offered, protocol) };
  }
  // TLS 1.3 tickets go out before the data: the client may use each ticket once (OpenSSL's cache),
  // and OpenSSL's client (Python's ftplib) fails a connection whose tickets, a full handshake's two,
  // follow a small download's bytes (decode_error, no close_notify; the 226 read one command late).
  if (sock.getProtocol() === 'TLSv1.3') await bounded(sessions.issued, TICKET_WAIT_MS);
  const socket: DataSocket = {
    stream: sock,
    secure: true,
    // Natively the TLS socket owns the TCP handle; over the guard, the raw socket does.
    close: () => (idle.stop(), ended(policy, sock, native ? sock : raw)),
    destroy: () => sock.destroy(),
    idle,
  };
  return { kind: 'ready', socket, family };
}

/** Ends a connection whose transfer is over: held by the server's bounds when it has them. */
function ended(policy: DataPolicy, stream: Duplex, owner: net.Socket): void {
  if (policy.ended) policy.ended(stream, owner);
  else endGracefully(stream, owner);
}

/** The direction once known; rejects if the connection goes first. */
function untilKnown<D>(direction: D | Promise<D>, raw: net.Socket): Promise<D> {
  if (!(direction instanceof Promise)) return Promise.resolve(direction);
  return new Promise((resolve, reject) => {
    const gone = (): void => reject(new DataConnectionError('closed before the transfer'));
    raw.once('close', gone);
    direction.then((d) => (raw.off('close', gone), resolve(d)), reject);
  });
}

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function withDeadline<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal,
  timeoutError: () => FerryError,
): Promise<T> {
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
      reject(timeoutError());
    }, ms);
    // Handled even when already aborted: the endpoint's close() rejects it later (an unhandled
    // rejection ended the server when a client hung up right after its transfer command).
    p.then(
      (v) => (done(), resolve(v)),
      (e: unknown) => (done(), reject(e)),
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
