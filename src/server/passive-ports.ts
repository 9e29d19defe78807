import * as net from 'node:net';
import { FerryError } from '../errors.js';
import { outOfDescriptors, warnOutOfDescriptors } from './descriptors.js';
import { silentLogger, type Logger } from '../logger.js';
import { normalizeAddress } from '../protocol/address.js';
import { peerAddress, type ProxyEdge } from './proxy-edge.js';
import type { ServerMetrics } from './metrics.js';
import type { WarningLimiter } from './warning-limiter.js';

/** Who asks for a passive port: counted against the limits until its reservation ends. */
export interface PassiveOwner {
  /** The client's address (normalized; behind a trusted proxy, the one its header names). */
  readonly address: string;
  /** What `address` counts as against perAddress (its IPv6 network); default the address. */
  readonly group?: string;
  readonly user: string | undefined;
}

export interface PassiveLimits {
  readonly perAddress: number;
  readonly perUser: number;
}

/**
 * A passive port refused because its owner holds too many: 425. `over`: the limit reached; only the
 * address's own is scored by the defender (a user's ports may be another address's doing).
 */
export class PassiveLimitError extends FerryError {
  constructor(
    message: string,
    readonly over: 'address' | 'user',
  ) {
    super('ERR_PASSIVE_LIMIT', message);
    this.name = 'PassiveLimitError';
  }
}

/** Where the ports were when a request gave up waiting: held here, held by another process, or not ours. */
export interface PortsBusy {
  /** The range, `min-max`. */
  readonly range: string;
  /** How many ports it has. */
  readonly rangeSize: number;
  /**
   * Of those held here, how many hold a pending transfer of the requesting client's address (its
   * IPv6 network): all of them when one address (a NAT's many clients) has filled the range.
   */
  readonly pendingFromAddress: number;
  /** Held here, each with a transfer of this client's address pending (or listening on another address). */
  readonly heldHere: number;
  /**
   * Held by another process (EADDRINUSE): another cluster worker, or another program on this host;
   * or left to the other workers a moment after this one gave it up (yieldIdle).
   */
  readonly heldElsewhere: number;
  /**
   * Refused to this process (EACCES): privileged ports (below net.ipv4.ip_unprivileged_port_start)
   * in the range of a server that runs as a user. No wait frees them: no reason to look again.
   */
  readonly denied: number;
}

/** The ports of the range a look could not bind, by why. */
interface Unbound {
  elsewhere: number;
  denied: number;
  /** Given up here a moment ago for another worker's waiting request (yieldIdle): its to take. */
  handedOff: number;
}

/** No port of the range could take the request before its deadline: 425, logged with where they were. */
export class PassiveBusyError extends FerryError {
  constructor(readonly busy: PortsBusy) {
    super('ERR_DATA_CONNECTION', 'No passive port is free.');
    this.name = 'PassiveBusyError';
  }
}

/** A client's pending passive transfer on a port: its data connection is handed to `accept`. */
export interface PassiveReservation {
  readonly port: number;
  /**
   * Done (connected, timed out, or aborted): the port no longer takes this client's connection.
   * `keep`: after a connection arrived, a port left with nothing pending waits a while for the next
   * reservation instead of closing at once (an expired or aborted one closes).
   */
  release(keep?: boolean): void;
}

/** Receives a data connection from the reservation's client address (TCP, not yet read). */
/**
 * `proxyBytes`: what a trusted proxy's PROXY header took of the connection's first bytes (its
 * client has sent nothing until more than these were read).
 */
export type AcceptData = (raw: net.Socket, client: string, proxyBytes: number) => void;

/** One listening port and the pending transfers waiting on it, one per client address. */
interface SharedPort {
  readonly server: net.Server;
  readonly host: string;
  readonly port: number;
  readonly pending: Map<string, AcceptData>;
  closing: boolean;
  /** Set while nothing is pending: closes the port unless a reservation takes it first. */
  idle?: NodeJS.Timeout;
}

/**
 * How long a port with nothing pending keeps listening for the next PASV/EPSV: a client fetching
 * many small files asks for one per file, and a listener kept open saves a socket, bind, listen
 * and close each time. Short, so that idle ports are not withheld from other cluster workers.
 */
const IDLE_MS = 2_000;

/**
 * A port another process frees wakes nobody here: while requests wait on ports held elsewhere, one
 * of them (in turn) looks again this often, or less often when a look (a bind per such port) is slow:
 * a freed port is taken soon, and a wide range held elsewhere costs a tenth of a core at most.
 */
const RETRY_MS = 250;

/**
 * After yieldIdle() (another worker's request waits on ports held elsewhere), how long no port is
 * kept idle and every port stopped here is left to the other workers a moment (HANDOFF_MS): a
 * worker under continuous load would otherwise take its ports again and again, and the other
 * worker's request, looking every RETRY_MS, would wait in vain. Its reports, one per RETRY_MS while
 * it waits, extend this.
 */
const YIELD_MS = 2_000;

/**
 * How long a port stopped while yielding is not bound again here, at least: twice the waiting
 * worker's interval between looks (it says how long that is), so that it looks before.
 */
const HANDOFF_MS = 2 * RETRY_MS;
/** At most this long, whatever the waiting worker says. */
const MAX_HANDOFF_MS = 10_000;

export interface PassiveIo {
  /** Reads the PROXY header of data connections from trusted proxies. */
  readonly edge?: ProxyEdge;
  readonly logger?: Logger;
  /** Rate-limits the refusal lines per address. */
  readonly warnings?: WarningLimiter;
  /**
   * Counts the connections turned away (ferry_data_connections_refused_total) and the requests
   * that waited for a port (ferry_passive_wait_seconds).
   */
  readonly metrics?: ServerMetrics;
  /**
   * A request waits on ports held by another process (a cluster worker's, maybe kept idle there):
   * called at most once per RETRY_MS while it waits, so that the other workers yieldIdle().
   */
  readonly starving?: (lookEveryMs: number) => void;
}

/**
 * Hands out passive ports (PASV/EPSV) over a configured range, or ephemeral ports. A port is
 * shared: it holds the pending transfers of several control connections as long as their clients'
 * addresses differ, and an incoming data connection goes to the pending transfer of its source
 * address (behind a trusted proxy, the address its PROXY header names); a connection from an
 * address with nothing pending is refused. One pending transfer per client address per port, so
 * a client with transfers pending on every port waits for one to end. A port that is listening
 * with nothing pending is taken first (the most recently used); otherwise ports are taken in turn,
 * and one in use elsewhere (another process, another cluster worker) or refused to this process
 * (privileged) is skipped; a request that found none free waits for one released here, or for its
 * turn to look again (RETRY_MS) while ports are held elsewhere (a refused port stays refused; the
 * other cluster workers are told, io.starving, and give up their idle ports: yieldIdle). A port
 * whose last transfer is done stops listening after IDLE_MS, or at once after close() or while
 * yielding. Each client address and each user may hold only so many pending transfers, so a
 * hundred idle PASVs cannot take every port.
 */
export class PassivePorts {
  private next: number;
  private readonly ports = new Map<number, SharedPort>();
  private readonly held = new Map<string, number>();
  /** Picking and opening ports one request at a time: two requests never take the same slot. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Requests waiting for a reservation to end (every port holds one of their address's). */
  private readonly waiting = new Set<() => void>();
  /** Those of them that met ports held elsewhere, the next to look again first. */
  private readonly polling = new Set<() => void>();
  private poll?: NodeJS.Timeout;
  /** How long the last look that met ports held elsewhere took (binds that failed). */
  private lookMs = 0;
  private readonly logger: Logger;
  /** Ports listening with nothing pending, the most recently used last. */
  private readonly idle = new Set<SharedPort>();
  /** Until then (performance.now()), no port is kept idle: another worker needs them (yieldIdle). */
  private yieldingUntil = 0;
  /** Ports stopped while yielding, left to the other workers until then (performance.now()). */
  private readonly handedOff = new Map<number, number>();
  /** How long a port stopped while yielding is left to the other workers (yieldIdle sets it). */
  private handoffMs = HANDOFF_MS;
  /** When `io.starving` was last called (performance.now()). */
  private starvedAt = -Infinity;
  private closed = false;

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly limits: PassiveLimits = { perAddress: Infinity, perUser: Infinity },
    private readonly io: PassiveIo = {},
  ) {
    this.next = min;
    this.logger = io.logger ?? silentLogger;
  }

  /**
   * A pending transfer for `owner` on a port listening on `host`. Waits up to `wait.ms` (or until
   * `signal`) when every port already holds one of this address's or is another process's; then
   * PassiveBusyError. `wait.waiting` is told once when the request starts to wait, and where the
   * ports are (the operator's warning: the range is full).
   */
  async reserve(
    host: string,
    owner: PassiveOwner,
    accept: AcceptData,
    wait: { ms: number; signal?: AbortSignal; waiting?: (busy: PortsBusy) => void },
  ): Promise<PassiveReservation> {
    const keys = this.hold(owner);
    const client = normalizeAddress(owner.address);
    const bindOn = normalizeAddress(host);
    let waitedSince: number | undefined;
    const waited = (result: 'port' | 'refused' | 'gone'): void => {
      if (waitedSince === undefined) return;
      const s = (performance.now() - waitedSince) / 1000;
      this.io.metrics?.passiveWait.observe({ result }, s);
    };
    try {
      const deadline = Date.now() + wait.ms;
      for (let tries = 0; ; tries++) {
        if (wait.signal?.aborted) throw new FerryError('ERR_ABORTED', 'Connection closed.');
        const unbound: Unbound = { elsewhere: 0, denied: 0, handedOff: 0 };
        const found = this.turn.then(() => this.take(bindOn, client, accept, unbound));
        this.turn = found.catch(() => {});
        const shared = await found;
        if (shared) {
          waited('port');
          return this.reservation(shared, client, accept, keys);
        }
        const busy = this.busy(unbound, keys[0] ?? '');
        const left = deadline - Date.now();
        if (left <= 0) {
          waited('refused');
          throw new PassiveBusyError(busy);
        }
        if (tries === 0) {
          waitedSince = performance.now();
          this.logger.debug({ client, user: owner.user, ...busy }, 'passive port: none free, waiting');
          wait.waiting?.(busy);
        }
        await this.released(left, wait.signal, busy.heldElsewhere > 0);
      }
    } catch (err) {
      if (!(err instanceof PassiveBusyError)) waited('gone');
      keys.forEach((k) => this.release(k));
      throw err;
    }
  }

  /** Where the ports were when a look found none; `byAddress`: the requester's hold key. */
  private busy({ elsewhere, denied, handedOff }: Unbound, byAddress: string): PortsBusy {
    const rangeSize = this.max - this.min + 1;
    const heldElsewhere = elsewhere + handedOff;
    const heldHere = rangeSize - heldElsewhere - denied;
    // The hold counts this request too, which holds no port yet.
    const pendingFromAddress = Math.max(0, (this.held.get(byAddress) ?? 0) - 1);
    const range = `${this.min}-${this.max}`;
    return { range, rangeSize, pendingFromAddress, heldHere, heldElsewhere, denied };
  }

  private reservation(
    shared: SharedPort,
    client: string,
    accept: AcceptData,
    keys: string[],
  ): PassiveReservation {
    let done = false;
    return {
      port: shared.port,
      release: (keep = false) => {
        if (done) return;
        done = true;
        keys.forEach((k) => this.release(k));
        if (shared.pending.get(client) === accept) shared.pending.delete(client);
        if (shared.pending.size === 0 && !shared.closing) {
          if (keep) this.rest(shared);
          else this.stop(shared);
        }
        this.wake();
      },
    };
  }

  /**
   * Nothing pending on `shared`: it waits a while for the next reservation, unless closed or
   * yielding to another worker.
   */
  private rest(shared: SharedPort): void {
    if (this.closed || performance.now() < this.yieldingUntil) return this.stop(shared);
    this.idle.add(shared);
    shared.idle = setTimeout(() => this.stop(shared), IDLE_MS);
  }

  private stop(shared: SharedPort): void {
    clearTimeout(shared.idle);
    this.idle.delete(shared);
    if (shared.closing) return;
    shared.closing = true;
    const now = performance.now();
    if (now < this.yieldingUntil && this.ports.has(shared.port))
      this.handedOff.set(shared.port, now + this.handoffMs);
    shared.server.close();
    // The port is unbound now; 'close' comes only once the connections it accepted end (a transfer
    // may run for hours): waiting for it withheld the port from this process's requests meanwhile.
    this.unbound(shared);
  }

  /** `shared` listens no more: its port is free to bind again (a waiting request may take it). */
  private unbound(shared: SharedPort): void {
    if (this.ports.get(shared.port) !== shared) return;
    this.ports.delete(shared.port);
    this.wake();
  }

  /**
   * No new reservations will come (the server stops, or a reload replaced this range): idle ports
   * stop listening now, the others when their last pending transfer ends. Nothing looks again for
   * ports held elsewhere: a request still waiting is woken by a release here or its deadline.
   */
  close(): void {
    this.closed = true;
    this.stopPolling();
    for (const shared of [...this.idle]) this.stop(shared);
  }

  /**
   * Another cluster worker's request waits on ports held elsewhere: the ports kept idle here stop
   * listening now, and for YIELD_MS a port whose transfer is done closes at once instead of being
   * kept, and is not bound again here before the waiting worker has looked (twice `lookEveryMs`,
   * its interval between looks; HANDOFF_MS at least): the only ports withheld from that request
   * are those carrying a transfer.
   */
  yieldIdle(lookEveryMs = RETRY_MS): void {
    const wanted = Number.isFinite(lookEveryMs) ? 2 * lookEveryMs : HANDOFF_MS;
    this.handoffMs = Math.min(MAX_HANDOFF_MS, Math.max(HANDOFF_MS, wanted));
    this.yieldingUntil = performance.now() + Math.max(YIELD_MS, this.handoffMs);
    const idle = [...this.idle];
    for (const shared of idle) this.stop(shared);
    if (idle.length > 0)
      this.logger.debug(
        { ports: idle.map((s) => s.port) },
        'passive ports: idle ones given up to another worker',
      );
  }

  private wake(): void {
    for (const w of [...this.waiting]) w();
  }

  /**
   * Resolves when a reservation ends or a port closes, after `ms`, or on abort; `elsewhere` (ports
   * are held by other processes): also at its turn to look again.
   */
  private released(ms: number, signal: AbortSignal | undefined, elsewhere: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        this.polling.delete(done);
        if (this.polling.size === 0) this.stopPolling();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
      if (elsewhere) this.polling.add(done);
      this.pollLater();
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * One look at a time, whatever the number waiting: the next of them in turn looks again. Unref'd:
   * the waiting requests' own deadlines are what keeps the process up for them.
   */
  private pollLater(): void {
    if (this.poll || this.polling.size === 0 || this.closed) return;
    this.poll = setTimeout(() => {
      this.poll = undefined;
      const [next] = this.polling;
      next?.();
      this.pollLater();
    }, this.lookEveryMs()).unref();
  }

  /** Whether `port` was stopped while yielding and is still left to the other workers. */
  private handingOff(port: number): boolean {
    const until = this.handedOff.get(port);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.handedOff.delete(port);
    return false;
  }

  /** The interval between looks while requests wait on ports held elsewhere. */
  private lookEveryMs(): number {
    return Math.max(RETRY_MS, 10 * this.lookMs);
  }

  /** Tells the other workers (io.starving) that ports held elsewhere are needed here, not too often. */
  private starve(): void {
    const now = performance.now();
    if (!this.io.starving || now - this.starvedAt < RETRY_MS) return;
    this.starvedAt = now;
    this.io.starving(this.lookEveryMs());
  }

  private stopPolling(): void {
    clearTimeout(this.poll);
    this.poll = undefined;
  }

  /**
   * The next port in turn that can take this client's transfer (opening it if needed), registered;
   * `unbound` counts the ports found held by another process, or refused to this one.
   */
  private async take(
    host: string,
    client: string,
    accept: AcceptData,
    unbound: Unbound,
  ): Promise<SharedPort | undefined> {
    const register = (shared: SharedPort): SharedPort => {
      clearTimeout(shared.idle);
      this.idle.delete(shared);
      shared.pending.set(client, accept);
      return shared;
    };
    const rested = [...this.idle].reverse().find((shared) => shared.host === host);
    if (rested) return register(rested);
    if (this.min === 0) return register(await this.opened(host, 0));
    const started = performance.now();
    const span = this.max - this.min + 1;
    for (let tries = 0; tries < span; tries++) {
      const port = this.next;
      this.next = port >= this.max ? this.min : port + 1;
      if (this.handingOff(port)) {
        unbound.handedOff++; // another worker's to take first
        continue;
      }
      const shared = this.ports.get(port);
      if (shared) {
        if (!shared.closing && shared.host === host && !shared.pending.has(client)) return register(shared);
        continue;
      }
      try {
        return register(await this.opened(host, port));
      } catch (err) {
        // In use by someone else, or privileged: try the next one. Anything else (no descriptor
        // left, an address not of this host) fails on every port alike: fail now.
        const why = skipped(err);
        if (!why) throw err;
        unbound[why]++;
      }
    }
    if (unbound.elsewhere + unbound.handedOff > 0) this.lookMs = performance.now() - started;
    // Only ports another process holds are worth a report: those this one left to the others are
    // theirs to take, and a report would make them yield theirs in turn.
    if (unbound.elsewhere > 0) this.starve();
    return undefined;
  }

  /** open(), its failures other than a port skipped logged and turned into ERR_DATA_CONNECTION. */
  private async opened(host: string, port: number): Promise<SharedPort> {
    try {
      return await this.open(host, port);
    } catch (err) {
      if (skipped(err)) throw err;
      const fields = { host, port, err: (err as Error).message };
      if (outOfDescriptors(err))
        warnOutOfDescriptors(this.logger, this.io.warnings, 'passive listen', fields);
      else this.logger.error(fields, 'passive port: cannot listen');
      throw new FerryError(
        'ERR_DATA_CONNECTION',
        `Cannot listen for a data connection: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  private async open(host: string, port: number): Promise<SharedPort> {
    const server = await listenOn(host, port);
    const shared: SharedPort = {
      server,
      host,
      port: (server.address() as net.AddressInfo).port,
      pending: new Map(),
      closing: false,
    };
    if (port !== 0) {
      this.ports.set(port, shared);
      server.once('close', () => this.unbound(shared));
    }
    server.on('connection', (raw: net.Socket) => this.onConnection(shared, raw));
    return shared;
  }

  private onConnection(shared: SharedPort, raw: net.Socket): void {
    raw.on('error', () => {});
    const from = peerAddress(raw);
    if (from === undefined) return void raw.destroy(); // reset before it could be read: nobody's
    const edge = this.io.edge;
    if (!edge?.enabled) return this.route(shared, raw, from);
    void edge.accept(raw, from).then((r) => {
      if (!r.ok) {
        this.refuse(r.from, { from: r.from, port: shared.port, why: r.why }, 'data connection refused');
        raw.destroy();
        return;
      }
      const proxyBytes = raw.bytesRead - r.rest.length;
      if (r.rest.length > 0) raw.unshift(r.rest);
      this.route(shared, raw, r.origin.address, proxyBytes);
    });
  }

  /** To the pending transfer of the connection's client address; nobody else's. */
  private route(shared: SharedPort, raw: net.Socket, client: string, proxyBytes = 0): void {
    const accept = shared.pending.get(client);
    if (accept && !raw.destroyed) return accept(raw, client, proxyBytes);
    this.io.metrics?.dataRefused.inc({ reason: 'foreign-address' });
    this.refuse(
      client,
      { from: client, port: shared.port },
      'data connection refused: not from the control connection peer of a transfer pending on this port',
    );
    raw.destroy();
  }

  private refuse(address: string, fields: object, msg: string): void {
    if (this.io.warnings) this.io.warnings.warn(this.logger, address, fields, msg);
    else this.logger.warn(fields, msg);
  }

  private hold(owner: PassiveOwner): string[] {
    const byAddress = `a ${owner.group ?? owner.address}`;
    const byUser = owner.user === undefined ? undefined : `u ${owner.user}`;
    if ((this.held.get(byAddress) ?? 0) >= this.limits.perAddress) {
      throw new PassiveLimitError(
        `Too many passive connections pending from your address (${this.limits.perAddress}); connect to them or close them first.`,
        'address',
      );
    }
    if (byUser && (this.held.get(byUser) ?? 0) >= this.limits.perUser) {
      throw new PassiveLimitError(
        `Too many passive connections pending for this user (${this.limits.perUser}); connect to them or close them first.`,
        'user',
      );
    }
    const keys = byUser ? [byAddress, byUser] : [byAddress];
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    return keys;
  }

  private release(key: string): void {
    const left = (this.held.get(key) ?? 0) - 1;
    if (left > 0) this.held.set(key, left);
    else this.held.delete(key);
  }
}

/** Why a port of the range is passed over: another process holds it, or this one may not bind it. */
function skipped(err: unknown): keyof Unbound | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return 'elsewhere';
  if (code === 'EACCES') return 'denied';
  return undefined;
}

function listenOn(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true });
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => {}); // later errors surface on the sockets; the owner closes the server
      resolve(server);
    });
  });
}
