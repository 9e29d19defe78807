import type { Duplex, Readable } from 'node:stream';
import { StorageFailure } from './transfers.js';

/**
 * Tells whose failure ended an upload: the data connection's (reset, cut: 426) or the storage's
 * (its stream or commit failed: 451 saying so). A storage that fails destroys the body it reads,
 * which then destroys the connection: so the connection failing while the body is still whole
 * failed first. Where the body is the connection itself (the streamed fallback), every failure of
 * the connection counts as the network's, as before.
 */
export class UploadWatch {
  #cut = false;
  #body: Readable | undefined;

  /** Made before anything else listens on `stream`, so that it hears the connection first. */
  constructor(stream: Duplex) {
    const cut = (): void => {
      if (this.#body === undefined || this.#body === stream || !this.#body.destroyed) this.#cut = true;
    };
    stream.prependListener('error', cut);
    stream.prependListener('close', () => {
      if (!stream.readableEnded) cut();
    });
  }

  /** `body` is what storage reads. */
  reads<R extends Readable>(body: R): R {
    this.#body = body;
    return body;
  }

  /** The error the upload ends with: the storage's own failure as a StorageFailure. */
  failure(err: unknown): unknown {
    return this.#cut ? err : new StorageFailure('write the file', err);
  }
}
