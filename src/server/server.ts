import * as net from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { normalizeAddress } from '../protocol/address.js';
import { CertificateError, CertificateStore, type CertificateMaterial } from '../tls/certificates.js';
import {
  admission,
  refuseConnection,
  SessionCounts,
  UnauthenticatedConnection,
  unauthenticatedLimits,
  type UnauthenticatedCount,
} from './admission.js';
import type { DefenderEvent } from '../defender/defender.js';
import { commandSpecs, commandTable } from './commands/registry.js';
import { ControlConnection, SHUTDOWN_MARGIN_MS, type ServerRuntime } from './control-connection.js';
import { CutUploads } from './cut-uploads.js';
import { HomeChecks } from './home-checks.js';
import { HashTurns } from './hash-turns.js';
import { HeldEntries } from './commands/listing-order.js';
import { LingeringData } from './lingering-data.js';
import { DefenderService } from './defender-service.js';
import { openListeners, type ControlListener } from './listener.js';
import { Logins, type UserSessionCounter } from './logins.js';
import {
  MAX_TIMER_MS,
  OptionError,
  resolveOptions,
  type ResolvedOptions,
  type ServerOptions,
} from './options.js';
import { PassiveNames } from './passive-names.js';
import { PassivePorts, type PassiveIo } from './passive-ports.js';
import { ProxyEdge, type ClientOrigin } from './proxy-edge.js';
import { guardAuthenticator, PasswordCheckQueue } from './password-checks.js';
import { checkedAuthenticator } from './checked-authenticator.js';
import { checkedStorageFor } from './checked-storage.js';
import { deniedNamesFor } from './denied-names.js';
import { WarningLimiter } from './warning-limiter.js';
import { Registry } from 'prom-client';
import { ServerMetrics } from './metrics.js';
import { certificateSettings, reloadPlan, warnKeptCertificates } from './reconfigure.js';
import type { SessionReport } from './session-report.js';
import { sessionMatches } from './session-match.js';
import { KICKED_OVER_SOCKET, type SessionMatch } from '../defender/control-socket.js';

const checkLimits = (o: ResolvedOptions) => ({
  overall: o.limits.maxPasswordChecks,
  perAddress: o.limits.maxPasswordChecksPerAddress,
});
const hashLimits = (o: ResolvedOptions) => ({
  overall: o.limits.maxHashes,
  perUser: o.limits.maxHashesPerUser,
});
const passiveLimits = (o: ResolvedOptions) => ({
  perAddress: o.limits.maxPassivePerAddress,
  perUser: o.limits.maxPassivePerUser,
});
const passivePortsFor = (o: ResolvedOptions, io: PassiveIo): PassivePorts =>
  new PassivePorts(o.passive.portMin, o.passive.portMax, passiveLimits(o), io);

/** A connection accepted and admitted elsewhere (a cluster primary, told of its logins and logouts). */
export interface Admitted extends UnauthenticatedCount {
  /** The client behind a trusted proxy, as the PROXY header named it. */
  readonly origin?: ClientOrigin;
  /** Bytes read past the header: the client's first, put back before the session reads. */
  readonly rest?: Buffer;
  /**
   * The session ended: it counts no more, though its socket may close a moment later (a client
   * told 421 that keeps its side open). Not called when no session started (the socket's close is).
   */
  ended?(): void;
}

export interface ListeningAddresses {
  explicit?: net.AddressInfo;
  implicit?: net.AddressInfo;
}

/**
 * Ferry's FTPS server: an explicit (AUTH TLS) and an implicit (TLS first) listener sharing one
 * configuration. Owns its listeners and every control connection; close() is graceful, destroy()
 * immediate; both idempotent.
 */
export class FerryServer {
  /** The options in force (a reload replaces them; see reconfigure). */
  options: ResolvedOptions;
  private readonly certificates: CertificateStore;
  private readonly runtime: ServerRuntime;
  private readonly listeners: net.Server[] = [];
  private readonly connections = new Set<ControlConnection>();
  private readonly counts: SessionCounts;
  /** Connections not logged in yet, per address (counted here unless a cluster primary does). */
  private readonly unauthenticated: SessionCounts;
  private readonly defense: DefenderService;
  /** Reads PROXY headers from trusted proxies before admission. */
  private readonly edge: ProxyEdge;
  /** Accepted sockets whose PROXY header is being read (destroy() closes them too). */
  private readonly atEdge = new Set<net.Socket>();
  private addresses: ListeningAddresses = {};
  private closing: Promise<void> | undefined;
  /** close() or destroy() was called: nothing starts any more (a listen() under way undoes itself). */
  private stopped = false;
  /** close() has finished, or destroy() was called: a reload has nothing left to apply to. */
  private closed = false;
  private destroyed = false;
  private listenCalled = false;
  /** Stops following account changes (the authenticator's watch). */
  private unwatch: () => void;
  private readonly checks: PasswordCheckQueue;
  /** The addresses of passive.address's host names. */
  private readonly passiveNames: PassiveNames;
  /** Cluster worker: tells the other workers that a PASV here waits on ports they hold. */
  private passiveStarving: ((lookEveryMs: number) => void) | undefined;

  constructor(options: ServerOptions) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.certificates = new CertificateStore(...certificateSettings(o));
    const warnings = new WarningLimiter(o.logger);
    this.defense = new DefenderService(o, o.logger, warnings);
    this.defense.onKick = (match) =>
      Promise.resolve({ ok: true, ended: this.kick(match, KICKED_OVER_SOCKET), missingWorkers: [] });
    this.edge = new ProxyEdge(o.proxyProtocol);
    this.checks = new PasswordCheckQueue(checkLimits(o));
    this.passiveNames = new PassiveNames(o.logger);
    const metrics = new ServerMetrics(o.metrics ?? new Registry(), () => this.defense.activeBans().length);
    this.runtime = {
      options: this.guarded(o),
      certificates: this.certificates,
      passivePorts: passivePortsFor(o, { ...this.passiveIo(), logger: o.logger, warnings, metrics }),
      metrics,
      commands: commandTable(commandSpecs),
      specs: commandSpecs,
      logger: o.logger,
      warnings,
      defender: this.defense,
      logins: new Logins(),
      cutUploads: new CutUploads(o.cutUploadsFile, { logger: o.logger, shared: o.sharedCutUploads }),
      homeChecks: new HomeChecks(),
      hashTurns: new HashTurns(hashLimits(o)),
      heldEntries: new HeldEntries(),
      lingering: new LingeringData(),
      ports: () => ({
        explicit: this.addresses.explicit?.port ?? configuredPort(this.runtime.options.explicit),
        implicit: this.addresses.implicit?.port ?? configuredPort(this.runtime.options.implicit),
      }),
    };
    this.counts = new SessionCounts(o.limits);
    this.unauthenticated = new SessionCounts(unauthenticatedLimits(o));
    this.unwatch = this.watch(o);
  }

  /**
   * Handlers see the authenticator through the password-check queue and the defender, and what the
   * embedder's authenticator and storage give checked at the way in.
   */
  private guarded(o: ResolvedOptions): ResolvedOptions {
    return {
      ...o,
      authenticator: guardAuthenticator(
        checkedAuthenticator(o.authenticator, o.logger),
        this.checks,
        this.defense,
      ),
      // PASV announces a host name's address as last looked up.
      passive: { ...o.passive, addressFor: (client) => this.passiveNames.ipOf(o.passive.addressFor(client)) },
      // Warned of at most a few times a minute per user (WarningLimiter).
      // The deny rules outside the check: a storage that breaks its contract is still refused names.
      storageFor: deniedNamesFor(
        checkedStorageFor(
          o.storageFor,
          (p) => (obj, msg) =>
            this.runtime.warnings.warn(o.logger, `user ${p.username}`, { user: p.username, ...obj }, msg),
        ),
        o,
      ),
    };
  }

  private watch(o: ResolvedOptions): () => void {
    const logins = this.runtime.logins;
    const authenticator = checkedAuthenticator(o.authenticator, o.logger);
    return authenticator.watch?.((name, p, gone) => logins.accountChanged(name, p, gone)) ?? (() => {});
  }

  /**
   * A new configuration (SIGHUP): users, limits, timeouts, TLS policy and certificates, passive
   * settings. Sessions running keep going and see the new settings from their next command on;
   * nothing changes when the options or the certificates are not valid (it throws). The listeners
   * and the defender keep their running settings but for its allow list: the keys that differ are
   * returned, for a warning.
   */
  async reconfigure(
    options: ServerOptions,
    certificates?: CertificateMaterial,
  ): Promise<{ restartNeeded: string[] }> {
    // While closing, sessions finishing their transfers must still see removed accounts (a
    // cluster worker stopping on its own is reloaded): only a server done or destroyed refuses.
    this.assertNotClosed();
    const running = this.options;
    const { next, restartNeeded: restart } = reloadPlan(running, options);
    const names = await this.passiveNames.lookUp(next.passive.names);
    await this.certificates.replace(...certificateSettings(next), certificates).catch(asOptionError);
    this.assertNotClosed(); // closed meanwhile: what it closed (the account watch) must stay closed
    if (!warnKeptCertificates(this.logger, this.certificates))
      this.logger.info({ fingerprints: this.certificates.sha256 }, 'certificates reloaded');
    this.defense.setAllow(next.defender.allow);
    this.checks.setLimits(checkLimits(next));
    this.runtime.hashTurns.setLimits(hashLimits(next));
    this.counts.setLimits(next.limits);
    this.unauthenticated.setLimits(unauthenticatedLimits(next));
    this.edge.configure(next.proxyProtocol);
    if (
      JSON.stringify([running.passive, passiveLimits(running)]) !==
      JSON.stringify([next.passive, passiveLimits(next)])
    ) {
      // The old ports stop listening as their last pending transfers end.
      this.runtime.passivePorts.close();
      this.runtime.passivePorts = passivePortsFor(next, {
        ...this.passiveIo(),
        logger: next.logger,
        warnings: this.runtime.warnings,
        metrics: this.runtime.metrics,
      });
    }
    if (next.authenticator !== running.authenticator) {
      this.unwatch();
      this.unwatch = this.watch(next);
    }
    // Only now, the reload accepted: a rejected one leaves the names followed and their addresses.
    names.apply();
    this.options = next;
    this.runtime.options = this.guarded(next);
    return { restartNeeded: restart };
  }

  private assertNotClosed(): void {
    if (this.destroyed || this.closed) throw new FerryError('ERR_CLOSED', 'Server is closed.');
  }

  /** Whether every listener accepts connections (for /healthz). */
  get accepting(): boolean {
    return !this.stopped && this.listeners.length > 0 && this.listeners.every((l) => l.listening);
  }

  /** Per-user session limits counted by `counter` (a cluster worker's primary) instead of here. */
  countUserSessionsWith(counter: UserSessionCounter): void {
    this.runtime.logins.countWith(counter);
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** Loads certificates (generating the self-signed default if needed), then listens. */
  async listen(): Promise<
    ListeningAddresses & { generatedCertificate: boolean; fingerprints: readonly string[] }
  > {
    // A second listen() would bind a second pair of ports that `address` and close() lose track of.
    if (this.listenCalled)
      throw new FerryError('ERR_USAGE', 'listen() was called already: make a new server.');
    this.listenCalled = true;
    if (this.stopped)
      throw new FerryError('ERR_USAGE', 'listen() after close() or destroy(): make a new server.');
    const { explicit, implicit } = this.options;
    try {
      const { generated } = await this.unlessStopped(this.loadCertificates());
      await this.unlessStopped(this.defense.start());
      if (explicit)
        this.addresses.explicit = await this.unlessStopped(this.open(explicit.host, explicit.port, false));
      if (implicit)
        this.addresses.implicit = await this.unlessStopped(this.open(implicit.host, implicit.port, true));
      return { ...this.addresses, generatedCertificate: generated, fingerprints: this.certificates.sha256 };
    } catch (err) {
      // Nothing half-started: a listener already bound would serve logins with no one to stop it,
      // and keep the process alive (close() or destroy() came first: it found nothing to close
      // yet). A server whose listen() failed is done (make a new one to retry).
      this.destroy();
      throw err;
    }
  }

  /** A step of listen(), unless close() or destroy() was called meanwhile (then it throws). */
  private async unlessStopped<T>(step: Promise<T>): Promise<T> {
    const done = await step;
    if (this.stopped) throw stoppedDuringListen();
    return done;
  }

  /**
   * Loads certificates (generating the self-signed default if needed) without listening: for a
   * server that is handed connections accepted elsewhere (handleConnection). `given`: what the
   * process that accepts them loaded from the same files (a cluster primary), used instead.
   */
  async loadCertificates(given?: CertificateMaterial): Promise<{ generated: boolean }> {
    if (this.stopped) throw new FerryError('ERR_CLOSED', 'Server is closed.');
    // What serving needs first: the passive host names' addresses too (a worker serves after this).
    await this.passiveNames.resolve(this.options.passive.names);
    return this.certificates.load(given).catch(asOptionError);
  }

  get address(): ListeningAddresses {
    return this.addresses;
  }

  get fingerprints(): readonly string[] {
    return this.certificates.sha256;
  }

  get sessionCount(): number {
    return this.connections.size;
  }

  /**
   * Whether `material` is what this server serves already (a cluster worker told of a reload its
   * primary rejected is handed the primary's certificates, unchanged).
   */
  serves(material: CertificateMaterial): boolean {
    return isDeepStrictEqual(this.certificates.material, material);
  }

  /** Every control connection, as the admin listener's GET /sessions shows it. */
  sessions(): SessionReport[] {
    const now = Date.now();
    return [...this.connections].map((c) => c.report(now));
  }

  /**
   * Ends the sessions `match` names (`ferry kick`, POST /sessions/ID/close; `by` is logged): each is
   * told 421 after its transfer's 426. Returns them as they were; one already ending is not counted.
   */
  kick(match: SessionMatch, by: string): SessionReport[] {
    const now = Date.now();
    return [...this.connections].flatMap((c) => {
      const report = c.report(now);
      return sessionMatches(report, match, (a) => this.defense.counted(a)) && c.kick(by) ? [report] : [];
    });
  }

  /**
   * Re-reads certificate files (or takes `given`, as loadCertificates); sessions already running
   * keep the certificate they started with.
   */
  async reloadCertificates(given?: CertificateMaterial): Promise<readonly string[]> {
    await this.certificates.load(given).catch(asOptionError);
    if (!warnKeptCertificates(this.logger, this.certificates))
      this.logger.info({ fingerprints: this.certificates.sha256 }, 'certificates reloaded');
    return this.certificates.sha256;
  }

  /**
   * Stops accepting, lets transfers finish (up to timeouts.closeGraceMs), then closes everything.
   * Each session is told `notice` in a 421 (default: the server shuts down).
   */
  close(o: { notice?: string } = {}): Promise<void> {
    this.stopped = true;
    this.closing ??= (async () => {
      // net.Server#close() stops accepting at once but calls back only after every connection it
      // accepted has ended: start it, end the sessions, then wait for both (awaiting it first hangs).
      const stopped = Promise.all(
        this.listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))),
      );
      const grace = this.options.timeouts.closeGraceMs;
      const sessions = [...this.connections];
      for (const c of sessions) {
        c.shutdown(grace, o.notice).catch((err: unknown) =>
          this.logger.warn({ err }, 'session shutdown failed'),
        );
      }
      // Sessions end by themselves within this (their transfers aborted at `grace`, abandoned if
      // their storage ignores that); what is left is cut. Waiting for them to end, not for their
      // shutdown(), lets destroy() end close() at once.
      // Capped: a longer timer would fire at once (a stopGraceSeconds near the limit).
      const timer = setTimeout(() => this.destroy(), Math.min(grace + SHUTDOWN_MARGIN_MS, MAX_TIMER_MS));
      await Promise.all(sessions.map((c) => c.closed));
      clearTimeout(timer);
      // No session left: a reload from now on must not open what is closed next (ports, watch).
      this.closed = true;
      this.runtime.passivePorts.close();
      this.runtime.lingering.close();
      this.passiveNames.stop();
      await stopped;
      this.unwatch();
      await this.defense.close();
      await this.runtime.cutUploads.close();
      this.runtime.warnings.dispose();
    })();
    return this.closing;
  }

  /** Closes every socket now. */
  destroy(): void {
    this.stopped = true;
    this.destroyed = true;
    for (const l of this.listeners) l.close();
    for (const c of this.connections) c.destroy();
    for (const s of this.atEdge) s.destroy();
    this.runtime.passivePorts.close();
    this.runtime.lingering.close();
    this.passiveNames.stop();
    this.unwatch();
    void this.defense.close();
    void this.runtime.cutUploads.close();
    this.runtime.warnings.dispose();
  }

  /**
   * Cluster worker: the primary decides bans, so defender events go to it (`send`); `mirrorBan`
   * takes the bans it announces, so that a banned address's password checks stop at once.
   */
  forwardDefenderEvents(send: (address: string, event: DefenderEvent) => void): {
    mirrorBan(address: string, until: number): void;
  } {
    this.defense.forwardTo(send);
    return { mirrorBan: (address, until) => this.defense.mirrorBan(address, until) };
  }

  /**
   * Cluster worker: the other workers bind the same passive range. `starving` is called (rate-
   * limited) while a PASV/EPSV here waits on ports held elsewhere, to be relayed to them; the other
   * workers' reports come to `yieldIdle`: this worker gives up the ports it keeps idle for a while.
   */
  sharePassivePorts(starving: (lookEveryMs: number) => void): { yieldIdle(lookEveryMs: number): void } {
    this.passiveStarving = starving;
    return { yieldIdle: (lookEveryMs) => this.runtime.passivePorts.yieldIdle(lookEveryMs) };
  }

  /** What every PassivePorts of this server shares (the one a reload makes too). */
  private passiveIo(): Pick<PassiveIo, 'edge' | 'starving'> {
    return { edge: this.edge, starving: (lookEveryMs) => this.passiveStarving?.(lookEveryMs) };
  }

  private async open(
    host: string | readonly string[],
    port: number,
    implicit: boolean,
  ): Promise<net.AddressInfo> {
    const where = { host, port, implicit, logger: this.logger, warnings: this.runtime.warnings };
    const opened = await openListeners(where, (s) => this.handleConnection(s, implicit));
    this.listeners.push(...opened.map((l) => l.server));
    // The first address's: every address has the same port.
    return (opened[0] as ControlListener).address;
  }

  /**
   * Serves one control connection: accepted by this server's listeners, or elsewhere (a cluster
   * worker is handed the sockets its primary accepted; call loadCertificates() first). `admitted`:
   * whoever accepted it read any PROXY header (`origin`, and `rest`, the bytes read past it),
   * checked the bans and counts the unauthenticated connections, and is told of the login.
   */
  handleConnection(socket: net.Socket, implicit: boolean, admitted?: Admitted): void {
    socket.on('error', () => {});
    const remote = socket.remoteAddress;
    // Reset before it could be read: nobody to serve, log or score (a primary hears of the close).
    if (remote === undefined) return void socket.destroy();
    if (admitted) {
      if (admitted.rest && admitted.rest.length > 0) socket.unshift(admitted.rest);
      this.serve(socket, implicit, remote, admitted.origin, admitted);
      return;
    }
    if (!this.edge.enabled) return this.serve(socket, implicit, remote, undefined, undefined);
    this.edge.pass(
      socket,
      normalizeAddress(remote),
      this.atEdge,
      (from, why) => this.defense.refused(from, why),
      (origin, rest) => {
        if (rest.length > 0) socket.unshift(rest);
        this.serve(socket, implicit, remote, origin, undefined);
      },
    );
  }

  /** `remote`: the socket's peer as read at accept. */
  private serve(
    socket: net.Socket,
    implicit: boolean,
    remote: string,
    origin: ClientOrigin | undefined,
    admitted: Admitted | undefined,
  ): void {
    if (socket.destroyed) return;
    const address = origin?.address ?? normalizeAddress(remote);
    const key = this.defense.key(address);
    if (!admitted) {
      const refusal = admission(this.defense, this.unauthenticated, address, key);
      if (refusal) {
        refuseConnection(socket, implicit, refusal);
        return;
      }
    }
    if (this.stopped || !this.counts.admit(key)) {
      if (!admitted) this.unauthenticated.release(key);
      // Stopped: a connection a cluster primary handed over before it learned this worker stops.
      this.defense.refused(address, this.stopped ? 'server shutting down' : 'too many sessions');
      refuseConnection(socket, implicit, this.stopped ? SHUTTING_DOWN : this.counts.refusal(key));
      return;
    }
    // Counted here, unless whoever admitted it counts (a cluster primary).
    const count = admitted ?? new UnauthenticatedConnection(this.defense, this.unauthenticated, address, key);
    const conn = new ControlConnection(socket, implicit, this.runtime, count, remote, origin);
    this.connections.add(conn);
    void conn.closed.then(() => {
      this.connections.delete(conn);
      this.counts.release(key);
      if (count instanceof UnauthenticatedConnection) count.release();
      admitted?.ended?.();
    });
    void conn.start();
  }
}

/** The 421 to a connection that reaches a server which is stopping (as a session's at close()). */
const SHUTTING_DOWN = 'Server shutting down, try later.';

/** A certificate file that cannot serve, named by its key as other option errors are (`tls.certificates.0.certFile`). */
function asOptionError(err: unknown): never {
  if (err instanceof CertificateError)
    throw new OptionError(`tls.${err.option}`, err.message, { cause: err });
  throw err;
}

/** What listen() rejects with when close() or destroy() came while it was starting. */
export function stoppedDuringListen(): FerryError {
  return new FerryError('ERR_CLOSED', 'close() or destroy() was called while listen() was starting.');
}

/** A listener's configured port (a cluster worker is handed connections: it binds none itself). */
function configuredPort(l: ResolvedOptions['explicit']): number | undefined {
  return l && l.port !== 0 ? l.port : undefined;
}
