import type { Duplex } from 'node:stream';
import type { Direction } from './data-connection.js';

/**
 * Aborts once the data connection is gone before its transfer could end well: a download's closed
 * at all, an upload's closed before its client ended it (the data idle timeout fired, a reset). An
 * upload its client ended goes on to its commit (storage stuck there: see IdleWatch.heldByServer).
 */
export function dataCut(stream: Duplex, direction: Direction): AbortSignal {
  const cut = new AbortController();
  const closed = (): void => {
    if (direction === 'send' || !stream.readableEnded) cut.abort();
  };
  if (stream.destroyed) closed();
  else stream.once('close', closed);
  return cut.signal;
}
