import { isFromWorker, type FromWorker } from './messages.js';
import type { WorkerSlot } from './worker-slot.js';

type ReloadAnswer = Extract<FromWorker, { type: 'ferry:reloaded' | 'ferry:reload-failed' }>;

const RELOAD_TIMEOUT_MS = 30_000;

/** Asks one worker to re-read its certificates; a worker that exits or never answers counts as failed. */
export function requestReload(slot: WorkerSlot): Promise<ReloadAnswer> {
  const child = slot.child;
  if (!child)
    return Promise.resolve({ type: 'ferry:reload-failed', error: `worker ${slot.index} is not running` });
  return new Promise((resolve) => {
    const done = (answer: ReloadAnswer): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(answer);
    };
    const onMessage = (m: unknown): void => {
      if (isFromWorker(m) && (m.type === 'ferry:reloaded' || m.type === 'ferry:reload-failed')) done(m);
    };
    const onExit = (): void => done({ type: 'ferry:reload-failed', error: `worker ${slot.index} exited` });
    const timer = setTimeout(
      () => done({ type: 'ferry:reload-failed', error: `worker ${slot.index} did not answer` }),
      RELOAD_TIMEOUT_MS,
    );
    child.on('message', onMessage);
    child.once('exit', onExit);
    slot.send({ type: 'ferry:reload' });
  });
}
