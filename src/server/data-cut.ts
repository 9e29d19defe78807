import type { Duplex } from 'node:stream';
import { FerryError } from '../errors.js';
import type { Direction } from './data-connection.js';

const ABANDONED = 'The client ended the data connection before the end of the download.';

/** A transfer's cut signal, and its release once the transfer is over. */
export interface DataCut {
  readonly signal: AbortSignal;
  /**
   * The transfer is over: the connection's close no longer aborts the signal (nothing listens to it
   * then; aborting made a DOMException, with its stack, for every download's normal close).
   */
  release(): void;
}

/**
 * Aborts once the data connection is gone before its transfer could end well: a download's closed
 * at all, or ended by its client before our end; an upload's closed before its client ended it (the
 * data idle timeout fired, a reset). An upload its client ended goes on to its commit (storage
 * stuck there: see IdleWatch.heldByServer). `also`: another signal that aborts it, with its reason
 * (the idle timeout's storage stall), as AbortSignal.any would, without the dependent signal Node
 * tracks for it.
 */
export function dataCut(stream: Duplex, direction: Direction, also?: AbortSignal): DataCut {
  const cut = new AbortController();
  const closed = (): void => {
    if (direction === 'send' || !stream.readableEnded) cut.abort();
  };
  const forward = (): void => {
    if (also) cut.abort(also.reason);
  };
  if (stream.destroyed) closed();
  else stream.once('close', closed);
  if (also?.aborted) forward();
  else also?.addEventListener('abort', forward, { once: true });
  if (direction === 'send') {
    // A download's client sends nothing but the answer to our close_notify: its close_notify (or
    // FIN) before our end is a download it abandoned, cut at once (426). Left alone, a TLS socket
    // over the EofGuard went on until the data idle timeout, or, its side ended by Node after the
    // peer's, made the rest of the file vanish and the transfer pass as complete (226). Read to see
    // it (what else the client sends is dropped).
    stream.once('end', () => {
      if (!stream.writableEnded) stream.destroy(new FerryError('ERR_ABORTED', ABANDONED));
    });
    stream.resume();
  }
  return {
    signal: cut.signal,
    release: () => {
      stream.off('close', closed);
      also?.removeEventListener('abort', forward);
    },
  };
}

/**
 * The abandonment of a download whose client ended its data connection before the transfer began
 * (a close_notify right after a handshake made after RETR, on a native TLS socket: Node then ends
 * and closes ours before dataCut can see its 'end'); undefined otherwise.
 */
export function abandonedBefore(stream: Duplex, direction: Direction): FerryError | undefined {
  return direction === 'send' && stream.readableEnded ? new FerryError('ERR_ABORTED', ABANDONED) : undefined;
}
