import type { Duplex } from 'node:stream';
import { FerryError } from '../errors.js';
import type { Direction } from './data-connection.js';

const ABANDONED = 'The client ended the data connection before the end of the download.';

/**
 * Aborts once the data connection is gone before its transfer could end well: a download's closed
 * at all, or ended by its client before our end; an upload's closed before its client ended it (the
 * data idle timeout fired, a reset). An upload its client ended goes on to its commit (storage
 * stuck there: see IdleWatch.heldByServer).
 */
export function dataCut(stream: Duplex, direction: Direction): AbortSignal {
  const cut = new AbortController();
  const closed = (): void => {
    if (direction === 'send' || !stream.readableEnded) cut.abort();
  };
  if (stream.destroyed) closed();
  else stream.once('close', closed);
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
  return cut.signal;
}

/**
 * The abandonment of a download whose client ended its data connection before the transfer began
 * (a close_notify right after a handshake made after RETR, on a native TLS socket: Node then ends
 * and closes ours before dataCut can see its 'end'); undefined otherwise.
 */
export function abandonedBefore(stream: Duplex, direction: Direction): FerryError | undefined {
  return direction === 'send' && stream.readableEnded ? new FerryError('ERR_ABORTED', ABANDONED) : undefined;
}
