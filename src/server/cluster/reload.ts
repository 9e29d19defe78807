import type { CertificateMaterial } from '../../tls/certificates.js';
import type { SessionReport } from '../session-report.js';
import { isFromWorker, type FromWorker, type ToWorker } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';

type ReloadAnswer = Extract<FromWorker, { type: 'ferry:reloaded' | 'ferry:reload-failed' }>;

const RELOAD_TIMEOUT_MS = 30_000;
const METRICS_TIMEOUT_MS = 5_000;
/** A person waits for `ferry who`: a worker that cannot answer in this is reported missing. */
const WHO_TIMEOUT_MS = 2_000;

/**
 * Sends `message` to one worker and resolves with the first answer `match` accepts; a worker that
 * is not running, exits or never answers gets `fail(why)`.
 */
function ask<A>(
  slot: WorkerSlot,
  message: ToWorker,
  match: (m: FromWorker) => A | undefined,
  fail: (why: string) => A,
  timeoutMs: number,
): Promise<A> {
  const child = slot.child;
  if (!child) return Promise.resolve(fail(`worker ${slot.index} is not running`));
  return new Promise((resolve) => {
    const done = (answer: A): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('close', onExit);
      resolve(answer);
    };
    const onMessage = (m: unknown): void => {
      const answer = isFromWorker(m) ? match(m) : undefined;
      if (answer !== undefined) done(answer);
    };
    const onExit = (): void => done(fail(`worker ${slot.index} exited`));
    const timer = setTimeout(() => done(fail(`worker ${slot.index} did not answer`)), timeoutMs);
    child.on('message', onMessage);
    child.once('close', onExit);
    slot.send(message);
  });
}

/**
 * Asks one worker to reload (its configuration, or its certificates only when `data` is absent)
 * with `certificates`, the primary's; a worker that exits or never answers counts as failed.
 */
export function requestReload(
  slot: WorkerSlot,
  data: unknown,
  certificates: CertificateMaterial | undefined,
): Promise<ReloadAnswer> {
  return ask<ReloadAnswer>(
    slot,
    { type: 'ferry:reload', data, certificates },
    (m) => (m.type === 'ferry:reloaded' || m.type === 'ferry:reload-failed' ? m : undefined),
    (error) => ({ type: 'ferry:reload-failed', error }),
    RELOAD_TIMEOUT_MS,
  );
}

/** One worker's metrics (prom-client's JSON form), or none when it does not answer in time. */
export function requestMetrics(slot: WorkerSlot, id: number): Promise<object[] | undefined> {
  return ask<object[] | undefined | null>(
    slot,
    { type: 'ferry:metrics-request', id },
    (m) => (m.type === 'ferry:metrics' && m.id === id ? (m.metrics as object[]) : undefined),
    () => null,
    METRICS_TIMEOUT_MS,
  ).then((m) => m ?? undefined);
}

/** One worker's sessions, or none when it does not answer in time. */
export function requestSessions(slot: WorkerSlot, id: number): Promise<readonly SessionReport[] | undefined> {
  return ask<readonly SessionReport[] | null>(
    slot,
    { type: 'ferry:who-request', id },
    (m) => (m.type === 'ferry:who' && m.id === id ? m.sessions : undefined),
    () => null,
    WHO_TIMEOUT_MS,
  ).then((s) => s ?? undefined);
}
