import type { ChildProcess } from 'node:child_process';
import type * as net from 'node:net';
import { coalesced } from '../../coalesced.js';
import { FerryError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { normalizeAddress } from '../../protocol/address.js';
import { CertificateStore } from '../../tls/certificates.js';
import {
  admission,
  refuseConnection,
  SessionCounts,
  UnauthenticatedConnection,
  unauthenticatedLimits,
} from '../admission.js';
import { DefenderService } from '../defender-service.js';
import { warnOutOfDescriptors } from '../descriptors.js';
import { openListeners, type ControlListener } from '../listener.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from '../options.js';
import { stoppedDuringListen, type ListeningAddresses } from '../server.js';
import { WarningLimiter } from '../warning-limiter.js';
import type { FromWorker, ToWorker } from './messages.js';
import { requestKick, requestMetrics, requestReload, requestSessions } from './reload.js';
import type { KickedSessions, SessionsReport } from '../session-report.js';
import { KICKED_OVER_SOCKET, type SessionMatch } from '../../defender/control-socket.js';
import { AggregatorRegistry, Counter, type Registry } from 'prom-client';
import { ServerMetrics } from '../metrics.js';
import { certificateSettings, reloadPlan, warnKeptCertificates } from '../reconfigure.js';
import { PassiveNames } from '../passive-names.js';
import { peerAddress, ProxyEdge, type ClientOrigin } from '../proxy-edge.js';
import { countsOf, HighWater, KeptCounts } from './kept-counts.js';
import { UserSessions } from './user-sessions.js';
import { byAddress, leastBusy, WorkerSlot, type SlotHooks } from './worker-slot.js';

export interface ClusterOptions {
  /** Number of worker processes (2 or more). */
  workers: number;
  /** Starts worker `index` (1..N): a process that runs serveAsWorker() with the same options. */
  fork(index: number): ChildProcess;
  /** Sent to every worker before it serves (structured-clone/JSON-safe). */
  init: unknown;
  /**
   * A worker died while serving (it is being restarted): what it held open is left for its owner
   * to clean (`ferry serve` removes the dead worker's upload temp files, and counts the quota usage
   * of `users`, who had sessions on it, again).
   */
  crashed?(index: number, users: readonly string[]): void;
  /**
   * How often each worker is asked whether it answers (default 2 s); one silent for three of these
   * gets no new connections until it answers again (tests shorten it).
   */
  heartbeatMs?: number;
}

const HEARTBEAT_MS = 2_000;

/** How long a worker that could not receive a connection gets none while another can take it. */
const OUT_OF_FILES_MS = 1_000;

interface Handed {
  readonly slot: WorkerSlot;
  readonly address: string;
  /** What the session limits count it as (defense.key() at accept). */
  readonly key: string;
  /** Counted against maxUnauthenticatedPerAddress while not logged in. */
  readonly unauthenticated: UnauthenticatedConnection;
}

/**
 * The primary of `ferry serve --workers N`. It owns the control listeners: it accepts each
 * connection, counts it against the session limits for all workers at once (no round trip at
 * accept), and hands the socket, before any byte is read, to the worker holding the fewest
 * connections. That worker owns the session and its data connections (it binds its passive ports
 * itself, exclusively) until the worker reports the socket closed. Crashed workers are restarted;
 * the others carry on. Installs no signal handlers: the CLI calls close(), destroy() and
 * reloadCertificates().
 */
export class ClusterPrimary {
  private options: ResolvedOptions;
  private readonly logger: Logger;
  private readonly slots: WorkerSlot[];
  /** Workers that stop on their own (SIGTERM to one): replaced in `slots`, serving on until they exit. */
  private readonly draining = new Set<WorkerSlot>();
  /** The counters and histograms of the workers that are gone, for /metrics. */
  private readonly goneCounts = new KeptCounts();
  /** What /metrics served last: no count is served lower (floating-point sums, kept-counts.ts). */
  private readonly served = new HighWater();
  private readonly listeners: net.Server[] = [];
  private readonly counts: SessionCounts;
  private readonly unauthenticated: SessionCounts;
  /** Decides bans for all workers, at accept; the workers send it what they see (messages). */
  private readonly defense: DefenderService;
  /** Refusals at accept are rate-limited per address, as in a single-process server. */
  private readonly warnings: WarningLimiter;
  private readonly handed = new Map<number, Handed>();
  /** Every user's sessions, counted for all workers (maxSessions; one set by a reload too). */
  private readonly userSessions = new UserSessions<WorkerSlot>();
  /** Reads PROXY headers from trusted proxies before admission. */
  private readonly edge: ProxyEdge;
  /** Accepted sockets whose PROXY header is being read (destroy() closes them too). */
  private readonly atEdge = new Set<net.Socket>();
  private nextId = 0;
  private readonly hooks: SlotHooks;
  /** Read here (as root before a --run-as drop) and handed to every worker, which reads no key file. */
  private certificates: CertificateStore;
  /** ferry_worker_restarts_total, when there is a registry. */
  private readonly restarts: Counter | undefined;
  private accepting_ = false;
  private startup: { pending: number; resolve(): void; reject(err: Error): void } | undefined;
  private closing: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    serverOptions: ServerOptions,
    private readonly cluster: ClusterOptions,
  ) {
    this.options = resolveOptions(serverOptions);
    this.logger = this.options.logger;
    this.warnings = new WarningLimiter(this.logger);
    this.defense = new DefenderService(this.options, this.logger, this.warnings);
    this.counts = new SessionCounts(this.options.limits);
    this.unauthenticated = new SessionCounts(unauthenticatedLimits(this.options));
    // ferry_bans is the primary's (it decides bans); the workers' registries add the rest.
    if (this.options.metrics) new ServerMetrics(this.options.metrics, () => this.defense.activeBans().length);
    this.restarts = this.options.metrics && workerRestarts(this.options.metrics);
    this.certificates = new CertificateStore(...certificateSettings(this.options));
    this.edge = new ProxyEdge(this.options.proxyProtocol);
    this.defense.onBan = (address, until) => {
      for (const s of this.allSlots()) if (s.ready) s.send({ type: 'ferry:ban', address, until });
    };
    this.defense.onKick = async (match) => ({ ok: true, ...(await this.kick(match, KICKED_OVER_SOCKET)) });
    const hooks: SlotHooks = {
      fork: cluster.fork,
      init: cluster.init,
      logger: this.logger,
      message: (slot: WorkerSlot, m: FromWorker) => this.onMessage(slot, m),
      exit: (slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null) =>
        this.onExit(slot, code, signal),
    };
    this.hooks = hooks;
    this.slots = Array.from({ length: cluster.workers }, (_, i) => new WorkerSlot(i + 1, hooks));
  }

  /**
   * Loads (or generates, once for all workers) the certificate, starts the workers and, once every
   * one of them serves, listens.
   */
  async listen(): Promise<
    ListeningAddresses & { generatedCertificate: boolean; fingerprints: readonly string[] }
  > {
    if (this.closing) throw new FerryError('ERR_CLOSED', 'Server is closed.');
    const o = this.options;
    const certificates = this.certificates;
    const addresses: ListeningAddresses = {};
    try {
      const { generated } = await this.unlessStopped(certificates.load());
      this.hooks.certificates = certificates.material;
      // A passive host name that does not resolve stops the start here, not in each worker (again
      // and again); the workers look the names up themselves.
      const names = new PassiveNames(o.logger);
      await this.unlessStopped(names.resolve(o.passive.names)).finally(() => names.stop());
      await this.unlessStopped(this.defense.start());
      // Workers first: a client the listeners accepted while no worker served yet would be
      // turned away (a worker can take seconds to start on a busy machine).
      await this.unlessStopped(
        new Promise<void>((resolve, reject) => {
          this.startup = { pending: this.slots.length, resolve, reject };
          for (const slot of this.slots) slot.start();
        }),
      );
      if (o.explicit)
        addresses.explicit = await this.unlessStopped(this.open(o.explicit.host, o.explicit.port, false));
      if (o.implicit)
        addresses.implicit = await this.unlessStopped(this.open(o.implicit.host, o.implicit.port, true));
      this.accepting_ = true;
      this.startHeartbeat();
      return { ...addresses, generatedCertificate: generated, fingerprints: certificates.sha256 };
    } catch (err) {
      // Nothing half-started: close() or destroy() came first and found nothing to close yet (a
      // listener bound since, workers forked since), or a step failed.
      this.destroy();
      throw err;
    }
  }

  /** A step of listen(), unless close() or destroy() was called meanwhile (then it throws). */
  private async unlessStopped<T>(step: Promise<T>): Promise<T> {
    const done = await step;
    if (this.closing) throw stoppedDuringListen();
    return done;
  }

  /** close() or destroy(): a listen() waiting for its workers stops waiting. */
  private stopStartup(): void {
    this.startup?.reject(stoppedDuringListen());
    this.startup = undefined;
  }

  /** The workers handed connections, then those that stop and still serve theirs. */
  private allSlots(): WorkerSlot[] {
    return [...this.slots, ...this.draining];
  }

  /** PIDs of the running workers, by position. */
  get workerPids(): readonly (number | undefined)[] {
    return this.slots.map((s) => s.pid);
  }

  get sessionCount(): number {
    return this.counts.size;
  }

  /** Whether the listeners accept connections and the workers serve (for /healthz). */
  get accepting(): boolean {
    return this.accepting_ && !this.closing && this.listeners.every((l) => l.listening);
  }

  /** At least one worker serves: connections are handed on, not turned away (for /readyz). */
  get serving(): boolean {
    return this.accepting && this.slots.some((s) => s.child && s.ready && !s.unresponsive && !s.draining);
  }

  /**
   * A worker stopped (SIGSTOP) or stuck in its event loop would still be handed its share of new
   * connections, which then hang: each is asked every heartbeatMs, and one silent for three of them
   * is passed over (and /readyz fails once all are) until it answers again.
   */
  private startHeartbeat(): void {
    const every = this.cluster.heartbeatMs ?? HEARTBEAT_MS;
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      for (const s of this.slots) {
        if (!s.child || !s.ready) continue;
        const silentMs = now - s.answeredAt;
        if (!s.unresponsive && silentMs > 3 * every) {
          s.unresponsive = true;
          this.logger.warn(
            { worker: s.index, workerPid: s.pid, silentMs },
            'worker not answering: no new connections handed to it',
          );
        }
        s.send({ type: 'ferry:ping' });
      }
    }, every);
    this.heartbeat.unref();
  }

  /**
   * The metrics of the whole cluster: the primary's registry (process metrics, bans) and every
   * worker's, summed per series (prom-client's aggregation), plus the counts of the workers that are
   * gone, so that no counter goes back when one exits. A worker that does not answer in time adds
   * its counts of its last answer.
   */
  readonly clusterMetrics = coalesced(async (): Promise<Registry> => {
    const own = (await this.options.metrics?.getMetricsAsJSON()) ?? [];
    const running = this.allSlots().filter((s) => s.child && s.ready);
    const asked = running.map((s) => s.child);
    this.logger.debug({ workers: running.length }, 'asking the workers for their metrics');
    const answers = await Promise.all(running.map((s) => requestMetrics(s)));
    // A worker that exited meanwhile is in goneCounts now, with counts at least as high as its answer.
    const workers = running.flatMap((s, i) =>
      s.child !== asked[i] ? [] : [answers[i] ?? countsOf(s.lastMetrics)],
    );
    const summed = AggregatorRegistry.aggregate([own, this.goneCounts.metrics, ...workers]);
    return AggregatorRegistry.aggregate([this.served.raise(await summed.getMetricsAsJSON())]);
  });

  /**
   * Every worker's sessions, tagged with its index, oldest first. A worker that is not running
   * (restarting) or does not answer in time is named in `missingWorkers`, not waited for.
   */
  readonly clusterSessions = coalesced(async (): Promise<SessionsReport> => {
    this.logger.debug({}, 'asking the workers for their sessions');
    // A stopping worker's sessions too, under its index (its replacement's), until it has exited.
    const answers = await Promise.all(
      this.allSlots().map(async (s) => ({
        worker: s.index,
        sessions: s.child && s.ready ? await requestSessions(s) : undefined,
      })),
    );
    const missing = answers.filter((a) => a.sessions === undefined).map((a) => a.worker);
    return {
      sessions: answers
        .flatMap((a) => (a.sessions ?? []).map((s) => ({ ...s, worker: a.worker })))
        .sort((a, b) => a.since.localeCompare(b.since)),
      missingWorkers: [...new Set(missing)],
    };
  });

  /**
   * Ends the sessions `match` names in every worker (`ferry kick`, POST /sessions/ID/close; `by` is
   * logged): those ended, tagged with their worker, and the workers that did not answer.
   */
  async kick(match: SessionMatch, by: string): Promise<KickedSessions> {
    const answers = await Promise.all(
      this.allSlots().map(async (s) => ({
        worker: s.index,
        sessions: s.child && s.ready ? await requestKick(s, match, by) : undefined,
      })),
    );
    return {
      ended: answers.flatMap((a) => (a.sessions ?? []).map((s) => ({ ...s, worker: a.worker }))),
      missingWorkers: [...new Set(answers.filter((a) => a.sessions === undefined).map((a) => a.worker))],
    };
  }

  /**
   * A new configuration (SIGHUP): the limits the primary counts and the defender's allow list apply
   * at once; the listeners and the defender's other settings stay (the keys that differ are
   * returned). Call reloadWorkers() next so that every worker takes the rest. Throws, changing
   * nothing, when the options are not valid.
   */
  async reconfigure(options: ServerOptions): Promise<{ restartNeeded: string[] }> {
    const running = this.options;
    const { next, restartNeeded: restart } = reloadPlan(running, options);
    // A new passive host name that does not resolve is refused here, before anything changes: the
    // workers would refuse it after the primary had taken the rest. Only new names: a worker keeps
    // the last address of a name it serves when a lookup fails.
    const added = next.passive.names.filter((n) => !running.passive.names.includes(n));
    if (added.length > 0) await new PassiveNames(this.logger).lookUp(added);
    // Loaded here, for reloadWorkers() to hand the workers; a bad file is refused before anything
    // changes anywhere (a file it served and now cannot read keeps what it serves: logged).
    await this.certificates.replace(...certificateSettings(next));
    warnKeptCertificates(this.logger, this.certificates);
    this.defense.setAllow(next.defender.allow);
    this.counts.setLimits(next.limits);
    this.unauthenticated.setLimits(unauthenticatedLimits(next));
    this.edge.configure(next.proxyProtocol);
    this.options = next;
    return { restartNeeded: restart };
  }

  /**
   * Re-reads the certificate files (throws, changing nothing, if it cannot) and every running worker
   * takes them; resolves with their fingerprints.
   */
  async reloadCertificates(): Promise<readonly string[]> {
    await this.certificates.load();
    warnKeptCertificates(this.logger, this.certificates);
    return this.reloadWorkers();
  }

  /**
   * Every running worker (a stopping one too) reloads: its configuration, given `data` (what it needs from the primary),
   * or else its certificates, with the certificates loaded here; resolves with their fingerprints,
   * rejects if one failed.
   */
  async reloadWorkers(data?: unknown): Promise<readonly string[]> {
    // A worker started later (after a crash) gets what the others reloaded with.
    if (data !== undefined) this.hooks.init = data;
    const certificates = this.certificates.material;
    this.hooks.certificates = certificates;
    // Stopping workers too: their sessions, still finishing transfers, must see removed accounts.
    const running = this.allSlots().filter((s) => s.child && s.ready);
    // The others, starting, were given the settings before these: each takes them once it is ready.
    for (const s of running) s.gave(this.hooks.init, certificates);
    const answers = await Promise.all(running.map((s) => requestReload(s, data, certificates)));
    const failed = answers.find((a) => a.type === 'ferry:reload-failed');
    if (failed?.type === 'ferry:reload-failed') throw new FerryError('ERR_TLS', failed.error);
    const first = answers[0];
    return first?.type === 'ferry:reloaded' ? first.fingerprints : [];
  }

  /** Stops accepting; every worker lets its transfers finish and exits; resolves when all have. */
  close(): Promise<void> {
    this.stopStartup();
    clearInterval(this.heartbeat);
    this.closing ??= (async () => {
      this.accepting_ = false;
      for (const l of this.listeners) l.close();
      await Promise.all(this.allSlots().map((s) => s.stop()));
      await this.defense.close();
      this.warnings.dispose();
    })();
    return this.closing;
  }

  /** Every worker closes its sockets now (and is killed if it does not exit). */
  destroy(): void {
    this.stopStartup();
    clearInterval(this.heartbeat);
    const slots = this.allSlots();
    this.closing ??= Promise.all(
      slots.map((s) => (s.child ? new Promise((r) => s.child?.once('close', r)) : undefined)),
    ).then(() => undefined);
    for (const l of this.listeners) l.close();
    for (const s of this.atEdge) s.destroy();
    for (const s of slots) s.destroy();
    void this.defense.close();
    this.warnings.dispose();
  }

  private async open(
    host: string | readonly string[],
    port: number,
    implicit: boolean,
  ): Promise<net.AddressInfo> {
    // Paused: the worker that gets the socket reads its first byte, never the primary.
    const where = {
      host,
      port,
      implicit,
      logger: this.logger,
      pauseOnConnect: true,
      warnings: this.warnings,
    };
    const opened = await openListeners(where, (s) => this.route(s, implicit));
    this.listeners.push(...opened.map((l) => l.server));
    // The first address's: every address has the same port.
    return (opened[0] as ControlListener).address;
  }

  private route(socket: net.Socket, implicit: boolean): void {
    socket.on('error', () => {});
    const peer = peerAddress(socket);
    // Reset before it could be read: nobody to serve, log or score.
    if (peer === undefined) return void socket.destroy();
    if (!this.edge.enabled) return this.admit(socket, implicit, peer, undefined, Buffer.alloc(0));
    // The PROXY header names the client the limits and the defender judge: read here, before admission.
    this.edge.pass(
      socket,
      peer,
      this.atEdge,
      (from, why) => this.defense.refused(from, why),
      (origin, rest) =>
        this.admit(socket, implicit, peer, origin, Buffer.concat([rest, takeBuffered(socket)])),
    );
  }

  private admit(
    socket: net.Socket,
    implicit: boolean,
    peer: string,
    origin: ClientOrigin | undefined,
    rest: Buffer,
  ): void {
    if (socket.destroyed) return;
    const address = origin?.address ?? peer;
    const key = this.defense.key(address);
    const refusal = admission(this.defense, this.unauthenticated, address, key);
    if (refusal) {
      refuseConnection(socket, implicit, refusal);
      return;
    }
    const slot = this.closing ? undefined : this.pick(address);
    if (!slot) {
      this.unauthenticated.release(key);
      this.defense.refused(address, 'no worker ready');
      refuseConnection(socket, implicit, 'Service not available, try later.');
      return;
    }
    if (!this.counts.admit(key)) {
      this.unauthenticated.release(key);
      this.defense.refused(address, 'too many sessions');
      refuseConnection(socket, implicit, this.counts.refusal(key));
      return;
    }
    const id = ++this.nextId;
    const unauthenticated = new UnauthenticatedConnection(this.defense, this.unauthenticated, address, key);
    this.handed.set(id, { slot, address, key, unauthenticated });
    slot.active++;
    const message: ToWorker = {
      type: 'ferry:connection',
      id,
      implicit,
      ...(origin ? { origin } : {}),
      ...(rest.length > 0 ? { rest: rest.toString('base64') } : {}),
    };
    slot.send(message, socket, (err) => {
      if (!err) return;
      this.release(id);
      socket.destroy();
    });
  }

  private pick(address: string): WorkerSlot | undefined {
    // A client's connections share their TLS sessions only within one worker.
    if (this.options.sessionReuseScope === 'user') return byAddress(this.slots, address);
    return leastBusy(this.slots);
  }

  private release(id: number): void {
    const h = this.handed.get(id);
    if (!h) return;
    this.handed.delete(id);
    this.counts.release(h.key);
    h.unauthenticated.release();
    h.slot.active = Math.max(0, h.slot.active - 1);
  }

  private onMessage(slot: WorkerSlot, m: FromWorker): void {
    if (m.type === 'ferry:sessions') {
      for (const id of m.logins) this.handed.get(id)?.unauthenticated.loggedIn();
      for (const id of m.closed) this.release(id);
      if (m.closed.length > 0) slot.outOfFilesUntil = 0; // a descriptor freed
      // Began before ended: a session that did both in one turn is never counted below zero.
      for (const user of m.added) this.userSessions.add(slot, user);
      for (const user of m.given) this.userSessions.give(slot, user);
    } else if (m.type === 'ferry:metrics') {
      slot.lastMetrics = m.metrics; // kept for when it exits (its final counts, at a graceful exit)
    } else if (m.type === 'ferry:draining') {
      slot.draining = true; // its 421 would reach new clients, even where it is not replaced
      this.replace(slot);
    } else if (m.type === 'ferry:pong') {
      if (slot.unresponsive) {
        slot.unresponsive = false;
        this.logger.info({ worker: slot.index, workerPid: slot.pid }, 'worker answering again');
      }
    } else if (m.type === 'ferry:lost') {
      const h = this.handed.get(m.id);
      this.release(m.id);
      // The next connections go to the other workers for a while (if one has room).
      slot.outOfFilesUntil = Date.now() + OUT_OF_FILES_MS;
      const fields = { worker: slot.index, remote: h?.address };
      warnOutOfDescriptors(this.logger, this.warnings, 'connection handed to a worker', fields);
    } else if (m.type === 'ferry:logout') {
      const loggedOut = this.handed.get(m.connection)?.unauthenticated.loggedOut() ?? Promise.resolve(false);
      void loggedOut.then((ok) => slot.send({ type: 'ferry:logout-answer', id: m.id, ok }));
    } else if (m.type === 'ferry:passive-starving') {
      // The other workers (stopping ones too: they still keep ports) give up their idle ones.
      for (const s of this.allSlots())
        if (s !== slot && s.ready) s.send({ type: 'ferry:passive-yield', lookEveryMs: m.lookEveryMs });
    } else if (m.type === 'ferry:defender') this.defense.record(normalizeAddress(m.address), m.event);
    else if (m.type === 'ferry:user-session-take') {
      const ok = this.userSessions.take(slot, m.user, m.max);
      slot.send({ type: 'ferry:user-session-answer', id: m.id, ok });
    } else if (m.type === 'ferry:ready') {
      if (slot.stale) void this.catchUp(slot);
      else this.serveOn(slot);
    }
  }

  /**
   * A worker that was starting when a reload came (it was given the settings from before, and the
   * reload skipped it) reloads with the current ones before it is handed anything; one that cannot
   * is killed, and its restart starts with the current ones.
   */
  private async catchUp(slot: WorkerSlot): Promise<void> {
    const child = slot.child;
    // Another reload may come meanwhile (it skips this worker: not ready yet): until none has.
    while (slot.child === child && slot.stale) {
      const { init, certificates } = this.hooks;
      slot.gave(init, certificates);
      this.logger.info(
        { worker: slot.index, workerPid: slot.pid },
        'worker started before a reload: reloading it',
      );
      const answer = await requestReload(slot, init, certificates);
      if (answer.type === 'ferry:reload-failed' && slot.child === child) {
        this.logger.error(
          { worker: slot.index, workerPid: slot.pid, err: answer.error },
          'worker could not take the reloaded configuration: restarting it',
        );
        child?.kill('SIGKILL');
        return;
      }
    }
    if (slot.child !== child || !child) return;
    slot.ready = true;
    this.serveOn(slot);
  }

  /** A worker serves (it is ready with the current settings): it is handed connections from now on. */
  private serveOn(slot: WorkerSlot): void {
    this.logger.info({ worker: slot.index, workerPid: slot.pid }, 'worker ready');
    for (const b of this.defense.activeBans())
      slot.send({ type: 'ferry:ban', address: b.address, until: b.until });
    if (this.startup && --this.startup.pending === 0) {
      this.startup.resolve();
      this.startup = undefined;
    }
  }

  /**
   * A worker stops on its own (SIGTERM to it): it is handed no new connection from now on, and its
   * replacement starts at once in its position; it serves its sessions to their end.
   */
  private replace(slot: WorkerSlot): void {
    const position = this.slots.indexOf(slot);
    // Starting, or the whole cluster stops: its exit is handled as before.
    if (position < 0 || this.startup || this.closing) return;
    this.logger.info(
      { worker: slot.index, workerPid: slot.pid },
      'worker stopping: no new connections handed to it; starting its replacement',
    );
    this.draining.add(slot);
    const next = new WorkerSlot(slot.index, this.hooks);
    this.slots[position] = next;
    next.start();
    this.restarts?.inc();
  }

  private onExit(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    // Its connections died with it: they no longer count against the limits.
    let sessions = 0;
    for (const [id, h] of this.handed)
      if (h.slot === slot) {
        this.release(id);
        sessions++;
      }
    const users = this.userSessions.on(slot);
    this.userSessions.forget(slot);
    this.goneCounts.add(slot.lastMetrics);
    slot.lastMetrics = undefined;
    if (this.draining.delete(slot)) {
      this.logger.info({ worker: slot.index, code, signal }, 'stopped worker exited');
      if (code !== 0) this.cluster.crashed?.(slot.index, users);
      return;
    }
    if (this.startup) {
      this.startup.reject(
        new FerryError(
          'ERR_CLOSED',
          `Worker ${slot.index} exited during start (${signal ?? `code ${code}`}).`,
        ),
      );
      this.startup = undefined;
      return;
    }
    if (this.closing) return;
    const restartDelayMs = slot.restart();
    this.logger.error(
      { worker: slot.index, code, signal, sessions, restartDelayMs },
      'worker exited; restarting it',
    );
    this.restarts?.inc();
    this.cluster.crashed?.(slot.index, users);
  }
}

/** Workers the primary restarted after they exited (get-or-create: primaries may share a registry). */
function workerRestarts(registry: Registry): Counter {
  const name = 'ferry_worker_restarts_total';
  return (
    (registry.getSingleMetric(name) as Counter | undefined) ??
    new Counter({ name, help: 'Worker processes restarted after they exited', registers: [registry] })
  );
}

/**
 * After the primary read a socket (its PROXY header), what the socket has buffered must travel to
 * the worker with it, and no byte may be read here once the handle is sent: Node's net API has no
 * public way to stop a socket's reads (pause() only stops delivery), hence the handle's readStop().
 * Clients wait for the server after their first bytes, so nothing more is in flight in practice.
 */
function takeBuffered(socket: net.Socket): Buffer {
  const chunks: Buffer[] = [];
  while (socket.readableLength > 0) {
    const chunk = socket.read() as Buffer | null;
    if (!chunk) break;
    chunks.push(chunk);
  }
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle;
  if (handle?.reading) {
    handle.reading = false;
    handle.readStop?.();
  }
  return Buffer.concat(chunks);
}
