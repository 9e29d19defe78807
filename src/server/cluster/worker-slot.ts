import type { ChildProcess } from 'node:child_process';
import type * as net from 'node:net';
import type { Logger } from '../../logger.js';
import type { CertificateMaterial } from '../../tls/certificates.js';
import { isAnswer, isFromWorker, type FromWorker, type ToWorker, type WorkerAnswer } from './messages.js';

export interface SlotHooks {
  /** Starts the worker process (with an IPC channel). */
  fork(index: number): ChildProcess;
  /** Sent to every new worker before it serves (e.g. the logins, so all workers share them). */
  init: unknown;
  /** The certificates and keys every new worker serves with (the primary's, as last loaded). */
  certificates?: CertificateMaterial;
  readonly logger: Logger;
  message(slot: WorkerSlot, message: FromWorker): void;
  exit(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void;
}

/** A worker that crashes within this time after its start is restarted after a growing delay. */
const STABLE_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;

/**
 * One worker position (1..N) of a cluster: its current process, whether it serves yet, how many
 * connections it holds, and its restarts.
 */
export class WorkerSlot {
  child: ChildProcess | undefined;
  ready = false;
  /** Connections handed to this worker and not yet reported closed. */
  active = 0;
  /** When the worker last answered (its ready message, a pong): see ClusterPrimary's heartbeat. */
  answeredAt = 0;
  /** Ready, but it has not answered for a while (stopped, or its event loop stuck): given nothing new. */
  unresponsive = false;
  /** Until then (ms since the epoch), it lacks descriptors for more: others are picked first. */
  outOfFilesUntil = 0;
  /** It stops on its own (SIGTERM to it): handed nothing new, also before it is replaced. */
  draining = false;
  /** The metrics this process last sent (an answer, or its final counts): counted once it is gone. */
  lastMetrics: unknown;
  /**
   * Questions asked of the current process and not answered yet, by id: its answers reach them
   * through the slot's one message listener, however many wait (a listener each would see every
   * answer: quadratic under a flood of scrapes).
   */
  private readonly questions = new Map<number, (answer: WorkerAnswer | string) => void>();
  /** The settings and certificates the current process was given last (its init, then a reload). */
  private given: { init: unknown; certificates: CertificateMaterial | undefined } = {
    init: undefined,
    certificates: undefined,
  };
  private lastQuestion = 0;
  private startedAt = 0;
  private quickCrashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly index: number,
    private readonly hooks: SlotHooks,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const child = this.hooks.fork(this.index);
    this.child = child;
    this.ready = false;
    this.draining = false;
    this.startedAt = Date.now();
    child.on('error', (err) =>
      this.hooks.logger.warn({ worker: this.index, err: err.message }, 'worker error'),
    );
    child.on('message', (m: unknown) => {
      // A previous process's message, were one to come after its end: not this one's.
      if (this.child !== child || !isFromWorker(m)) return;
      // Given settings that a reload has replaced since: not ready until it has taken the new ones.
      if (m.type === 'ferry:ready') this.ready = !this.stale;
      this.answeredAt = Date.now();
      if (isAnswer(m)) this.answer(m.id, m);
      this.hooks.message(this, m);
    });
    // 'close', not 'exit': the process can end before the primary has read its last messages (its
    // drain notice, its final metrics), which would then be taken for its successor's.
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.child = undefined;
      this.ready = false;
      this.unresponsive = false;
      this.active = 0;
      this.outOfFilesUntil = 0;
      for (const id of [...this.questions.keys()]) this.answer(id, `worker ${this.index} exited`);
      this.hooks.exit(this, code, signal);
    });
    this.hooks.logger.info({ worker: this.index, workerPid: child.pid }, 'worker started');
    this.gave(this.hooks.init, this.hooks.certificates);
    this.send({ type: 'ferry:init', data: this.hooks.init, certificates: this.hooks.certificates });
  }

  /** The current process was sent these settings and certificates (its init, a reload). */
  gave(init: unknown, certificates: CertificateMaterial | undefined): void {
    this.given = { init, certificates };
  }

  /**
   * A reload replaced the settings (or certificates) the current process was given, while it could
   * not take it (it was starting): it must be sent the new ones before it serves.
   */
  get stale(): boolean {
    return this.given.init !== this.hooks.init || this.given.certificates !== this.hooks.certificates;
  }

  /**
   * Starts a new process after one exited: at once, or later when it keeps crashing at start.
   * Returns the delay (ms).
   */
  restart(): number {
    const quick = Date.now() - this.startedAt < STABLE_MS;
    this.quickCrashes = quick ? this.quickCrashes + 1 : 0;
    const delay = quick ? Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** this.quickCrashes) : 0;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, delay);
    return delay;
  }

  send(message: ToWorker, handle?: net.Socket, done?: (err: Error | null) => void): void {
    const child = this.child;
    if (!child?.connected) {
      done?.(new Error('worker is not running'));
      return;
    }
    child.send(message, handle, {}, (err) => done?.(err));
  }

  /**
   * Sends `question(id)` and resolves with the answer that carries its id, or with why there is
   * none: the worker is not running, exits, or does not answer within `timeoutMs`.
   */
  ask(question: (id: number) => ToWorker, timeoutMs: number): Promise<WorkerAnswer | string> {
    if (!this.child?.connected) return Promise.resolve(`worker ${this.index} is not running`);
    const id = ++this.lastQuestion;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answer(id, `worker ${this.index} did not answer`), timeoutMs);
      this.questions.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.send(
        question(id),
        undefined,
        (err) => err && this.answer(id, `worker ${this.index}: ${err.message}`),
      );
    });
  }

  private answer(id: number, answer: WorkerAnswer | string): void {
    const waiting = this.questions.get(id);
    this.questions.delete(id);
    waiting?.(answer);
  }

  /** Graceful: the worker finishes its sessions (as FerryServer.close) and exits. */
  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    if (this.ready) this.send({ type: 'ferry:stop' });
    else child.kill('SIGTERM'); // not serving yet: nothing to finish
    await exited;
  }

  /** Now: the worker closes every socket and exits (killed if it does not). */
  destroy(): void {
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    if (this.ready) this.send({ type: 'ferry:destroy' });
    const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  }
}

/**
 * The ready worker with the fewest connections; a tie goes to the first of them, not round the
 * workers: sessions that come one after another then find the same worker, whose code V8 has
 * compiled for them already (a fresh worker's first 10,000-entry listing takes about twice as long
 * as its third), while sessions at the same time still spread over all workers. A worker that just
 * could not receive a connection (out of descriptors), or that does not answer, is picked only when
 * every one is so.
 */
export function leastBusy<S extends Pickable>(slots: readonly S[], now = Date.now()): S | undefined {
  let best: S | undefined;
  let bestFull = true;
  for (const s of slots) {
    if (!s.ready || s.draining === true) continue;
    const full = (s.outOfFilesUntil ?? 0) > now || s.unresponsive === true;
    if (!best || (bestFull && !full) || (full === bestFull && s.active < best.active)) {
      best = s;
      bestFull = full;
    }
  }
  return best;
}

interface Pickable {
  readonly ready: boolean;
  readonly active: number;
  readonly outOfFilesUntil?: number;
  readonly unresponsive?: boolean;
  readonly draining?: boolean;
}

/**
 * The worker a client address always goes to while it is ready (--session-reuse-scope user: the
 * client's connections must meet in one worker, whose store holds their TLS sessions); the least
 * busy one while it is not. Hashed over all positions, not the ready ones only, so that a worker's
 * restart does not move the other addresses.
 */
export function byAddress<S extends Pickable>(slots: readonly S[], address: string): S | undefined {
  // FNV-1a: cheap and spreads similar addresses (10.0.0.1, 10.0.0.2) well enough.
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193);
  const s = slots[(h >>> 0) % slots.length];
  return s?.ready && s.draining !== true && s.unresponsive !== true ? s : leastBusy(slots);
}
