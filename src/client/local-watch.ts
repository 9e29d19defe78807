import type { Duplex, Readable, Writable } from 'node:stream';

const ENDED = 'The stream given to put() has already ended: nothing is left of it to upload.';

/**
 * The caller's own stream in a get() (the sink) or a put() (the source), watched from the call on,
 * before anything is sent. Its own failure, an error it emits or a close before its end, fails the
 * transfer: `signal` aborts it as the caller's signal would (the data connection given up, ABOR),
 * and the call rejects with a LocalError; one that failed, closed or (a source) ended before the
 * call fails it before anything is sent. Listening from the start also means that an early error
 * (a file stream that cannot open) is never an unhandled 'error' event, which ends the process.
 *
 * Not the local side's own: what a pipeline hands on to it from the data connection (that
 * connection's error, or a premature close when it ended early).
 */
export class LocalWatch {
  #failure: Error | undefined;
  readonly #aborter = new AbortController();
  /** Errors the data connection emitted. */
  readonly #fromData = new WeakSet<Error>();
  /** The data connection failed or closed: a close of the local stream now is the pipeline's. */
  #dataGone = false;
  readonly #removers: (() => void)[] = [];

  constructor(
    private readonly local: Readable | Writable,
    private readonly direction: 'download' | 'upload',
  ) {
    if (local.errored) this.#fail(local.errored);
    // A source read to its end before (by an earlier call): it would upload an empty file.
    else if (direction === 'upload' && this.#through()) this.#fail(new Error(ENDED));
    else if (local.destroyed && !this.#through()) this.#fail(this.#closedEarly());
    this.#on(local, 'error', (e: Error) => {
      if (!this.#fromData.has(e) && !isPrematureClose(e)) this.#fail(e);
    });
    this.#on(local, 'close', () => {
      if (!this.#dataGone && !this.#through()) this.#fail(this.#closedEarly());
    });
  }

  /** Aborts once the local side has failed. */
  get signal(): AbortSignal {
    return this.#aborter.signal;
  }

  /** The local side's own failure, if it failed. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The data connection's streams: what they emit, a pipeline hands on to the local stream. */
  watchData(streams: readonly Duplex[]): void {
    for (const d of new Set(streams)) {
      this.#on(d, 'error', (e: Error) => {
        this.#fromData.add(e);
        this.#dataGone = true;
      });
      this.#on(d, 'close', () => {
        this.#dataGone = true;
      });
    }
  }

  /** The local stream gave what cannot be sent (an object, read from a stream in object mode). */
  failWith(e: Error): void {
    this.#fail(e);
  }

  /** Stops listening: the local stream may outlive the transfer (stdout, for each file of a batch). */
  stop(): void {
    for (const remove of this.#removers.splice(0)) remove();
  }

  /** The local stream is through: the sink finished, the source ended. */
  #through(): boolean {
    return this.direction === 'download'
      ? (this.local as Writable).writableFinished
      : (this.local as Readable).readableEnded;
  }

  #closedEarly(): Error {
    return new Error(
      this.direction === 'download'
        ? 'The stream given to get() was closed before the download ended.'
        : 'The stream given to put() was closed before its end.',
    );
  }

  #fail(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#aborter.abort(e);
  }

  #on(s: Readable | Writable, event: 'error', fn: (e: Error) => void): void;
  #on(s: Readable | Writable, event: 'close', fn: () => void): void;
  #on(s: Readable | Writable, event: 'error' | 'close', fn: (e: Error) => void): void {
    s.on(event, fn);
    this.#removers.push(() => void s.off(event, fn));
  }
}

function isPrematureClose(e: Error): boolean {
  return 'code' in e && e.code === 'ERR_STREAM_PREMATURE_CLOSE';
}
