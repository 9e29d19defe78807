import type { SessionMatch } from '../../defender/control-socket.js';
import type { DefenderEvent } from '../../defender/defender.js';
import type { CertificateMaterial } from '../../tls/certificates.js';
import type { ClientOrigin } from '../proxy-edge.js';
import type { SessionReport } from '../session-report.js';

/**
 * What a cluster primary and its workers say to each other over the IPC channel. A connection
 * message carries the accepted TCP socket as its handle. Init and reload carry the certificates and
 * keys the primary loaded: a worker started after a --run-as drop could not read a root-only key.
 */
export type ToWorker =
  | { readonly type: 'ferry:init'; readonly data: unknown; readonly certificates?: CertificateMaterial }
  | {
      readonly type: 'ferry:connection';
      readonly id: number;
      readonly implicit: boolean;
      /** The client behind a trusted proxy, as the PROXY header the primary read named it. */
      readonly origin?: ClientOrigin;
      /** Base64 of the bytes the primary read past that header: the session reads them first. */
      readonly rest?: string;
    }
  /**
   * Reload: the configuration (`data`: what the worker needs from the primary), or only certificates
   * (answered by ferry:reloaded or ferry:reload-failed with the same id).
   */
  | {
      readonly type: 'ferry:reload';
      readonly id: number;
      readonly data?: unknown;
      readonly certificates?: CertificateMaterial;
    }
  /** Send your metrics (answered by ferry:metrics with the same id). */
  | { readonly type: 'ferry:metrics-request'; readonly id: number }
  /** List your sessions (answered by ferry:who with the same id). */
  | { readonly type: 'ferry:who-request'; readonly id: number }
  /** End the sessions `match` names, `by` asking (answered by ferry:who listing those ended). */
  | {
      readonly type: 'ferry:kick-request';
      readonly id: number;
      readonly match: SessionMatch;
      readonly by: string;
    }
  | { readonly type: 'ferry:user-session-answer'; readonly id: number; readonly ok: boolean }
  /** Whether the connection that logged out counts as not logged in again (else it must end). */
  | { readonly type: 'ferry:logout-answer'; readonly id: number; readonly ok: boolean }
  /** A ban (until > now) or its end (until 0), so the worker stops checking that address's passwords. */
  | { readonly type: 'ferry:ban'; readonly address: string; readonly until: number }
  /**
   * Another worker's PASV/EPSV waits on ports held elsewhere: give up your idle kept ports, and keep
   * none for a while (PassivePorts.yieldIdle).
   */
  | { readonly type: 'ferry:passive-yield'; readonly lookEveryMs: number }
  /** Are you there? (answered by ferry:pong at once: a worker whose event loop is stuck does not) */
  | { readonly type: 'ferry:ping' }
  | { readonly type: 'ferry:stop' }
  | { readonly type: 'ferry:destroy' };

export type FromWorker =
  | { readonly type: 'ferry:ready' }
  /**
   * This worker stops (SIGTERM to it alone): it serves its sessions to their end but must be handed
   * no new connection, and the primary starts its replacement now.
   */
  | { readonly type: 'ferry:draining' }
  | { readonly type: 'ferry:pong' }
  /**
   * Connections that logged in (no longer counted as unauthenticated) and connections that closed,
   * and the users whose sessions began (`added`: users without a limit, counted all the same, as a
   * limit may come) and ended (`given`: one counted session each), gathered over one turn of the
   * worker's event loop: one message for many sessions' events. The primary counts `added` before
   * `given`, so that a session that began and ended in one turn is never counted below zero.
   */
  | {
      readonly type: 'ferry:sessions';
      readonly logins: readonly number[];
      readonly closed: readonly number[];
      readonly added: readonly string[];
      readonly given: readonly string[];
    }
  /**
   * Connection `id` never reached the worker: it had no file descriptor left to receive the socket
   * with, and Node closed it. The primary counts it no more.
   */
  | { readonly type: 'ferry:lost'; readonly id: number }
  /**
   * A PASV/EPSV here waits on passive ports held elsewhere (at most one per 250 ms while it waits):
   * relayed to the other workers as ferry:passive-yield.
   */
  | { readonly type: 'ferry:passive-starving'; readonly lookEveryMs: number }
  /** Something the defender scores (a failed login, a failed TLS handshake, a refused PASV). */
  | { readonly type: 'ferry:defender'; readonly address: string; readonly event: DefenderEvent }
  | { readonly type: 'ferry:reloaded'; readonly id: number; readonly fingerprints: readonly string[] }
  | { readonly type: 'ferry:reload-failed'; readonly id: number; readonly error: string }
  /**
   * The worker's registry as prom-client's getMetricsAsJSON() gives it: an answer, or (id 0) its
   * final counts, sent as it exits gracefully.
   */
  | { readonly type: 'ferry:metrics'; readonly id: number; readonly metrics: unknown }
  /** The worker's sessions now (their `worker` is null: the primary knows the index). */
  | { readonly type: 'ferry:who'; readonly id: number; readonly sessions: readonly SessionReport[] }
  /**
   * May `user` (limited to `max`) have one more session? Answered by user-session-answer. Sent after
   * the session reports gathered so far, so that this worker's ended sessions are given back first.
   */
  | {
      readonly type: 'ferry:user-session-take';
      readonly id: number;
      readonly user: string;
      readonly max: number;
    }
  /**
   * Connection `connection` logged out (REIN): may it count as not logged in again? Answered by
   * logout-answer. Sent after the logins gathered so far, so that its own login is counted first.
   */
  | { readonly type: 'ferry:logout'; readonly id: number; readonly connection: number };

/** The answers to the primary's questions (metrics, sessions, reload): each carries its question's id. */
export type WorkerAnswer = Extract<
  FromWorker,
  { type: 'ferry:metrics' | 'ferry:who' | 'ferry:reloaded' | 'ferry:reload-failed' }
>;
const answerTypes = new Set<string>(['ferry:metrics', 'ferry:who', 'ferry:reloaded', 'ferry:reload-failed']);

const toWorkerTypes = new Set<string>([
  'ferry:init',
  'ferry:connection',
  'ferry:reload',
  'ferry:metrics-request',
  'ferry:who-request',
  'ferry:kick-request',
  'ferry:user-session-answer',
  'ferry:logout-answer',
  'ferry:ban',
  'ferry:passive-yield',
  'ferry:ping',
  'ferry:stop',
  'ferry:destroy',
]);
const fromWorkerTypes = new Set<string>([
  'ferry:ready',
  'ferry:draining',
  'ferry:pong',
  'ferry:sessions',
  'ferry:lost',
  'ferry:passive-starving',
  'ferry:defender',
  'ferry:reloaded',
  'ferry:reload-failed',
  'ferry:metrics',
  'ferry:who',
  'ferry:user-session-take',
  'ferry:logout',
]);

const typeOf = (m: unknown): unknown =>
  typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;

export const isToWorker = (m: unknown): m is ToWorker => toWorkerTypes.has(String(typeOf(m)));
export const isFromWorker = (m: unknown): m is FromWorker => fromWorkerTypes.has(String(typeOf(m)));
export const isAnswer = (m: FromWorker): m is WorkerAnswer => answerTypes.has(m.type);
