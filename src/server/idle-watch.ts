import type * as net from 'node:net';
import { StorageError } from '../errors.js';
import type { Logger } from '../logger.js';

/** What a transfer tells the idle timeout, and hears from it. */
export interface StallWatch {
  /**
   * True while the server, not the client, holds the transfer up: an upload's bytes not taken by
   * storage (its buffer full, or all of it received and the commit pending), a download's source
   * giving none. Asked when the timeout fires.
   */
  heldByServer: () => boolean;
  /** True while the transfer waits for the user's rate (a paced upload's next read): not idle. */
  pacing?: () => boolean;
  /**
   * Steps storage made on its own (the kept bytes of an APPE copied): while it holds the transfer
   * up (heldByServer) and they grow, the transfer moves, and storage is not blamed.
   */
  storageSteps?: () => number;
  /**
   * Aborts when the timeout fired while heldByServer(): the connection is left to the transfer,
   * which fails it as storage's (451), not the client's (426).
   */
  readonly storageStalled: AbortSignal;
  /** The transfer is over: the timeout is no longer needed. */
  stop(): void;
  /** Set once the timeout cut the connection (the client's side); else undefined. */
  readonly idleCut?: IdleCut | undefined;
}

/** The limit a cut transfer went past, stated as the config does (a download's is doubled). */
export interface IdleCut {
  /** The limit, in seconds: the data timeout, twice it for a download. */
  readonly seconds: number;
  /** Which limit that is: `the data timeout`, or `twice the 300 s data timeout, for a download`. */
  readonly limit: string;
}

/**
 * Cuts a data connection after `ms` without progress either way: bytes read, or written bytes the
 * kernel took (a write completes once it has them all). Not net.Socket#setTimeout: it skips an
 * expiry whenever a blocked write's queue shrank a little, so a stalled download ran for twice
 * the timeout. One timer, run every quarter of the timeout, samples the count: the cut comes at
 * most a quarter late, and a busy transfer costs one comparison per quarter, nothing per chunk.
 */
export class IdleWatch implements StallWatch {
  heldByServer: () => boolean = () => false;
  pacing: () => boolean = () => false;
  storageSteps: () => number = () => 0;
  idleCut: IdleCut | undefined;
  readonly #stalled = new AbortController();
  readonly storageStalled: AbortSignal = this.#stalled.signal;
  private seen: number;
  private stepsSeen = 0;
  private since = Date.now();
  private timer: NodeJS.Timeout;
  private readonly step: number;

  constructor(
    private sock: net.Socket,
    private readonly ms: number,
    private readonly logger: Logger,
  ) {
    this.step = Math.max(1, Math.ceil(ms / 4));
    this.seen = progress(sock);
    this.timer = setTimeout(this.check, this.step);
    sock.once('close', this.closed);
  }

  /** The connection now goes through `sock` (TLS on the TCP handle). */
  follow(sock: net.Socket): void {
    this.sock = sock;
    sock.once('close', this.closed);
  }

  readonly stop = (): void => clearTimeout(this.timer);

  // A connection closed while storage still holds the transfer (an upload the client ended, its
  // commit stuck) is timed on: the storage gets the rest of the timeout, then the transfer fails.
  private readonly closed = (): void => {
    if (!this.heldByServer()) this.stop();
  };

  private readonly check = (): void => {
    const now = Date.now();
    const p = progress(this.sock);
    const steps = this.storageSteps();
    const storageMoved = steps !== this.stepsSeen && this.heldByServer();
    this.stepsSeen = steps;
    // A download: the kernel takes more of it only once a third or so of its send buffer (up to
    // 4 MiB here) has left over the network, so on a slow link a download that still moves shows
    // no progress for that long. Downloads get twice the time (a client that stopped reading: 2x).
    const download = this.sock.bytesWritten > this.sock.bytesRead;
    const limit = download ? 2 * this.ms : this.ms;
    if (p !== this.seen || this.pacing() || storageMoved) [this.seen, this.since] = [p, now];
    else if (now - this.since >= limit) {
      const idleMs = now - this.since;
      // The limit, not idleMs: the config's number (or twice it), which the reply and log must not
      // seem to contradict; idleMs (logged) is the limit plus the check's lateness.
      const s = seconds(limit);
      if (this.heldByServer()) {
        this.logger.info({ idleMs }, `data connection idle for ${s} s: storage took or gave no bytes`);
        this.#stalled.abort(new StorageError('unavailable', `storage took or gave no bytes for ${s} s`));
        return;
      }
      const doubled = `twice the ${seconds(this.ms)} s data timeout, for a download`;
      this.idleCut = { seconds: s, limit: download ? doubled : 'the data timeout' };
      this.logger.info({ idleMs }, `data connection idle for ${s} s (${this.idleCut.limit}): closed`);
      this.sock.destroy();
      return;
    }
    this.timer = setTimeout(this.check, Math.max(1, Math.min(this.step, this.since + limit - now)));
  };
}

/** `ms` in seconds, as the config gives them (a fraction only for an embedder's sub-second timeout). */
function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

/** Bytes read plus bytes written whose write completed (the kernel has them). */
function progress(sock: net.Socket): number {
  return sock.bytesRead + sock.bytesWritten - sock.writableLength;
}
