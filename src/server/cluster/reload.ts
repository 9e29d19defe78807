import type { SessionMatch } from '../../defender/control-socket.js';
import type { CertificateMaterial } from '../../tls/certificates.js';
import type { SessionReport } from '../session-report.js';
import type { FromWorker } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';

type ReloadAnswer = Extract<FromWorker, { type: 'ferry:reloaded' | 'ferry:reload-failed' }>;

const RELOAD_TIMEOUT_MS = 30_000;
const METRICS_TIMEOUT_MS = 5_000;
/** A person waits for `ferry who`: a worker that cannot answer in this is reported missing. */
const WHO_TIMEOUT_MS = 2_000;

/**
 * Asks one worker to reload (its configuration, or its certificates only when `data` is absent)
 * with `certificates`, the primary's; a worker that exits or never answers counts as failed.
 */
export async function requestReload(
  slot: WorkerSlot,
  data: unknown,
  certificates: CertificateMaterial | undefined,
): Promise<ReloadAnswer> {
  const a = await slot.ask((id) => ({ type: 'ferry:reload', id, data, certificates }), RELOAD_TIMEOUT_MS);
  if (typeof a === 'string') return { type: 'ferry:reload-failed', id: 0, error: a };
  return a.type === 'ferry:reloaded' || a.type === 'ferry:reload-failed'
    ? a
    : { type: 'ferry:reload-failed', id: a.id, error: `worker ${slot.index} answered ${a.type}` };
}

/** One worker's metrics (prom-client's JSON form), or none when it does not answer in time. */
export async function requestMetrics(slot: WorkerSlot): Promise<object[] | undefined> {
  const a = await slot.ask((id) => ({ type: 'ferry:metrics-request', id }), METRICS_TIMEOUT_MS);
  return typeof a !== 'string' && a.type === 'ferry:metrics' ? (a.metrics as object[]) : undefined;
}

/** The sessions one worker ended (`match`, `by` asking), or none when it does not answer in time. */
export async function requestKick(
  slot: WorkerSlot,
  match: SessionMatch,
  by: string,
): Promise<readonly SessionReport[] | undefined> {
  const a = await slot.ask((id) => ({ type: 'ferry:kick-request', id, match, by }), WHO_TIMEOUT_MS);
  return typeof a !== 'string' && a.type === 'ferry:who' ? a.sessions : undefined;
}

/** One worker's sessions, or none when it does not answer in time. */
export async function requestSessions(slot: WorkerSlot): Promise<readonly SessionReport[] | undefined> {
  const a = await slot.ask((id) => ({ type: 'ferry:who-request', id }), WHO_TIMEOUT_MS);
  return typeof a !== 'string' && a.type === 'ferry:who' ? a.sessions : undefined;
}
