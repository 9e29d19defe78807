import type { UserSessionCounter } from '../logins.js';
import * as net from 'node:net';
import type { CertificateMaterial } from '../../tls/certificates.js';
import type { FerryServer } from '../server.js';
import { isToWorker, type FromWorker, type ToWorker } from './messages.js';

/** The worker's end of the IPC channel: `process` in a forked worker. */
export interface PrimaryChannel {
  /** False once the primary is gone (its end closed: it exited, was killed, or disconnected). */
  readonly connected: boolean;
  send(
    message: FromWorker,
    handle: undefined,
    options: undefined,
    callback: (err: Error | null) => void,
  ): boolean;
  on(event: 'message', listener: (message: unknown, handle: unknown) => void): unknown;
  /** Node's own messages: a sent handle comes in one, and without it when it could not be received. */
  on(event: 'internalMessage', listener: (message: unknown, handle: unknown) => void): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
}

export interface WorkerHooks {
  /** The primary's certificates and keys (its init message): served instead of reading the files. */
  certificates?: CertificateMaterial;
  /** Runs once the certificates are loaded, before the worker says it is ready (privilege drop). */
  beforeReady?(): Promise<void> | void;
  /**
   * A reload the primary asked for (`data`: what it sent, `certificates`: what it loaded); default:
   * certificates only.
   */
  reload?(data: unknown, certificates: CertificateMaterial | undefined): Promise<readonly string[]>;
  /** Counts per-user sessions itself (shared by several nodes: the database) instead of the primary. */
  sessions?: UserSessionCounter;
  /**
   * Aborted when this worker alone is to stop (SIGTERM to it): it tells the primary, which hands it
   * nothing more and starts its replacement, then stops as on the primary's 'stop'.
   */
  drain?: AbortSignal;
}

/** Waits for the primary's init message (the first message a worker gets). */
export function receiveInit(channel: PrimaryChannel): Promise<Extract<ToWorker, { type: 'ferry:init' }>> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      if (isToWorker(m) && m.type === 'ferry:init') resolve(m);
    };
    channel.on('message', onMessage);
  });
}

/**
 * Runs `server` as a cluster worker: it serves the sockets the primary hands it, tells the primary
 * when each one closes (so the limits stay counted across workers), reloads, sends its metrics, and stops
 * gracefully on 'stop' or when the primary goes away. Resolves once the server is closed.
 */
export async function serveAsWorker(
  server: FerryServer,
  channel: PrimaryChannel,
  hooks: WorkerHooks = {},
): Promise<void> {
  await server.loadCertificates(hooks.certificates);
  await hooks.beforeReady?.();
  const reload = hooks.reload ?? ((_data, certificates) => server.reloadCertificates(certificates));
  // Once the primary is gone, 'disconnect' closes this worker; until then, what it would have
  // been told is dropped. Without a callback, a send on a closed channel is an 'error' event on
  // `process`, which nothing handles: the worker died of it, in the middle of closing its sessions.
  const sent = (err: Error | null): void => {
    if (err && !PRIMARY_GONE.has((err as NodeJS.ErrnoException).code ?? ''))
      server.logger.warn({ err: err.message }, 'message to the primary not sent');
  };
  const reply = (m: FromWorker, then?: () => void): void => {
    if (!channel.connected) return then?.();
    try {
      channel.send(m, undefined, undefined, (err) => {
        sent(err);
        then?.();
      });
    } catch (err) {
      sent(err as Error);
      then?.();
    }
  };
  const metrics = (): Promise<unknown> =>
    server.options.metrics?.getMetricsAsJSON().catch(() => []) ?? Promise.resolve([]);
  const reports = new SessionReports(reply);
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  let stopping = false;
  let closed = false;
  void done.then(() => (closed = true));
  // Questions for the primary, which counts for all workers (per-user sessions, logouts).
  const asked = new Map<number, (ok: boolean) => void>();
  let lastAsk = 0;
  const ask = (question: (id: number) => FromWorker): Promise<boolean> =>
    new Promise((resolve) => {
      if (stopping) return resolve(false); // no primary to answer
      const id = ++lastAsk;
      asked.set(id, resolve);
      // The primary must count what this worker gathered first: a logout's own login, the sessions
      // of a limited user that ended (a take would find them still counted).
      reports.flush();
      reply(question(id));
    });
  if (hooks.sessions) server.countUserSessionsWith(hooks.sessions);
  else
    server.countUserSessionsWith({
      take: (user, max) => ask((id) => ({ type: 'ferry:user-session-take', id, user, max })),
      add: (user) => reports.added(user),
      give: (user) => reports.given(user),
    });
  const stop = (notice?: string): void => {
    if (stopping) return;
    stopping = true;
    for (const answer of asked.values()) answer(false); // no primary to count: refuse
    asked.clear();
    void server.close(notice === undefined ? {} : { notice }).then(stopped);
  };
  const defender = server.forwardDefenderEvents((address, event) =>
    reply({ type: 'ferry:defender', address, event }),
  );
  const passive = server.sharePassivePorts((lookEveryMs) =>
    reply({ type: 'ferry:passive-starving', lookEveryMs }),
  );
  // A socket this worker had no descriptor for (EMFILE) never reaches 'message': Node answers the
  // primary's Node with a NACK, which resends it a few times, then closes it. Told nothing, the
  // primary would count that connection for ever (as not logged in: its address soon refused).
  // Node sends one handle at a time: only the last one lost may still come, resent.
  let lost: number | undefined;
  channel.on('internalMessage', (m, handle) => {
    const id = handle ? undefined : handedId(m);
    if (id === undefined || id === lost) return;
    lost = id;
    reply({ type: 'ferry:lost', id });
  });
  channel.on('message', (m, handle) => {
    if (!isToWorker(m)) return;
    switch (m.type) {
      case 'ferry:connection': {
        if (!(handle instanceof net.Socket)) return;
        // Reported lost, then brought by a resend after all: the primary counts it no more.
        if (m.id === lost) return void handle.destroy();
        // The session's end, or the socket's close when no session started: the primary counts
        // the first it hears of (a second is ignored), so a client that keeps its side open after
        // a 421 does not hold its place.
        // Reported once: the second would be ignored, and cost a message of its own when it comes
        // in a later turn of the event loop (the socket closes after the session ends).
        let reported = false;
        const closed = (): void => {
          if (reported) return;
          reported = true;
          reports.closed(m.id);
        };
        handle.once('close', closed);
        server.handleConnection(handle, m.implicit, {
          ended: closed,
          loggedIn: () => reports.login(m.id),
          // ask() sends the logins gathered so far first: this session's login before its logout.
          loggedOut: () => ask((id) => ({ type: 'ferry:logout', id, connection: m.id })),
          origin: m.origin,
          rest: m.rest === undefined ? undefined : Buffer.from(m.rest, 'base64'),
        });
        return;
      }
      case 'ferry:ban':
        return defender.mirrorBan(m.address, m.until);
      case 'ferry:passive-yield':
        return passive.yieldIdle(m.lookEveryMs);
      case 'ferry:ping':
        return reply({ type: 'ferry:pong' });
      case 'ferry:metrics-request': {
        const id = m.id;
        void metrics().then((metrics) => reply({ type: 'ferry:metrics', id, metrics }));
        return;
      }
      case 'ferry:who-request':
        return reply({ type: 'ferry:who', id: m.id, sessions: server.sessions() });
      case 'ferry:kick-request':
        return reply({ type: 'ferry:who', id: m.id, sessions: server.kick(m.match, m.by) });
      case 'ferry:reload': {
        const id = m.id;
        // Stopped on its own and every session ended, it is about to exit: nothing to apply to.
        if (closed) return reply({ type: 'ferry:reloaded', id, fingerprints: server.fingerprints });
        reload(m.data, m.certificates).then(
          (fingerprints) => reply({ type: 'ferry:reloaded', id, fingerprints }),
          (err: unknown) => reply({ type: 'ferry:reload-failed', id, error: (err as Error).message }),
        );
        return;
      }
      case 'ferry:user-session-answer':
      case 'ferry:logout-answer':
        asked.get(m.id)?.(m.ok);
        asked.delete(m.id);
        return;
      case 'ferry:stop':
        return stop();
      case 'ferry:destroy':
        server.destroy();
        return stop();
      case 'ferry:init':
        return;
    }
  });
  const primaryGone = (): void => {
    // The primary exited or was killed: nobody hands this worker connections any more, nor counts
    // its sessions. Its sessions end as at a graceful stop (running transfers get their grace).
    server.logger.warn({ stopping }, 'primary gone: closing this worker');
    stop();
  };
  channel.once('disconnect', primaryGone);
  hooks.drain?.addEventListener('abort', () => {
    if (!stopping) reply({ type: 'ferry:draining' });
    stop(RESTARTING);
  });
  // Gone while this worker loaded its certificates: 'disconnect' was emitted before anyone listened.
  if (!channel.connected) primaryGone();
  // SIGTERM while it started: it was handed nothing yet, and stops without serving.
  if (hooks.drain?.aborted) stop();
  else reply({ type: 'ferry:ready' });
  await done;
  // Its final counts: the primary's /metrics adds them once this worker is gone, so that no
  // counter of the cluster goes back when a worker exits.
  const final = await metrics();
  await new Promise<void>((resolve) => reply({ type: 'ferry:metrics', id: 0, metrics: final }, resolve));
}

/**
 * The id of the connection a Node handle message carries (its resends wrap it once more), if it is
 * one of the primary's.
 */
function handedId(m: unknown): number | undefined {
  for (let depth = 0; depth < 4 && isNodeHandle(m); depth++) m = m.msg;
  return isToWorker(m) && m.type === 'ferry:connection' ? m.id : undefined;
}

const isNodeHandle = (m: unknown): m is { cmd: 'NODE_HANDLE'; msg: unknown } =>
  typeof m === 'object' && m !== null && (m as { cmd?: unknown }).cmd === 'NODE_HANDLE';

/**
 * What the sessions of a worker stopping on its own (SIGTERM to it alone) are told: the primary
 * listens on and starts its replacement, so the client may reconnect at once.
 */
const RESTARTING = 'This worker process is restarting; the server stays up: reconnect.';

/** Send errors that mean the primary's end is closed (or closing): nothing to report. */
const PRIMARY_GONE = new Set(['ERR_IPC_CHANNEL_CLOSED', 'EPIPE', 'ECONNRESET']);

/**
 * Logins and closes, and the users' sessions that began and ended, sent to the primary once per turn
 * of the event loop: a busy worker serves several sessions per turn, and each IPC message costs both
 * processes a JSON round and system calls.
 */
class SessionReports {
  private logins: number[] = [];
  private closes: number[] = [];
  private adds: string[] = [];
  private gives: string[] = [];
  private pending = false;

  constructor(private readonly send: (m: FromWorker) => void) {}

  login(id: number): void {
    this.logins.push(id);
    this.schedule();
  }

  closed(id: number): void {
    this.closes.push(id);
    this.schedule();
  }

  added(user: string): void {
    this.adds.push(user);
    this.schedule();
  }

  given(user: string): void {
    this.gives.push(user);
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(this.flush);
  }

  /** Sends what was gathered now (also when a message that must follow it is sent next). */
  readonly flush = (): void => {
    if (!this.pending) return;
    this.pending = false;
    const message: FromWorker = {
      type: 'ferry:sessions',
      logins: this.logins,
      closed: this.closes,
      added: this.adds,
      given: this.gives,
    };
    this.logins = [];
    this.closes = [];
    this.adds = [];
    this.gives = [];
    this.send(message);
  };
}
