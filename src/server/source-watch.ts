import type { Duplex, Readable } from 'node:stream';
import { storageError } from '../storage/fs-errors.js';
import type { StorageErrorKind, VPath } from '../storage/types.js';
import { StorageFailure } from './transfers.js';

/** Read errors an embedder's stream may report raw (fs.createReadStream), as the StorageError they mean. */
const READ_KINDS: Readonly<Record<string, StorageErrorKind>> = {
  ENOENT: 'not-found', // gone since its stat (log rotation)
  EACCES: 'permission-denied',
  EPERM: 'permission-denied',
  EISDIR: 'is-directory',
};

/** A raw read error of a file as the StorageError it means (ENOENT: 550), others as they are. */
export function readError(err: unknown, p: VPath): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const kind = typeof code === 'string' ? READ_KINDS[code] : undefined;
  return kind ? storageError(kind, 'read', p, err) : err;
}

/**
 * Hears a storage stream's errors from the moment it exists. A transfer's pipeline listens only
 * once the client's data connection is open, up to dataConnectMs later: a stream failing meanwhile
 * (a file gone since its stat, an object body reset) must not be an unhandled 'error' that ends
 * the process with every session. It also tells whose failure ended the transfer: pipeline destroys
 * every stream with the first error, so the error alone does not say which side failed.
 */
export class SourceWatch {
  #failure: { readonly err: unknown; readonly first: boolean } | undefined;
  #sink: Duplex | undefined;

  constructor(
    source: Readable,
    /** What the server could not do when the source fails, for the reply: `read the file`. */
    private readonly failed: string,
    private readonly map: (err: unknown) => unknown = (err) => err,
  ) {
    source.on('error', (err) => {
      // Heard before pipeline's own listener: a sink still whole means the source failed first.
      this.#failure ??= { err: this.map(err), first: this.#sink?.destroyed !== true };
    });
  }

  /** The source failed already (before any data connection): its error, thrown. */
  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.err;
  }

  /** Runs `send` from the source into `sink`: the source's own failure becomes a StorageFailure. */
  async into(sink: Duplex, send: () => Promise<void>): Promise<void> {
    this.#sink = sink;
    try {
      this.throwIfFailed();
      await send();
    } catch (err) {
      if (this.#failure?.first) throw new StorageFailure(this.failed, this.#failure.err);
      throw err;
    }
  }
}
