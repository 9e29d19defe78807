import type net from 'node:net';
import type { Logger } from '../logger.js';

/**
 * Cuts a data connection after `ms` without progress either way: bytes read, or written bytes the
 * kernel took (a write completes once it has them all). Not net.Socket#setTimeout: it skips an
 * expiry whenever a blocked write's queue shrank a little, so a stalled download ran for twice
 * the timeout. One timer, run every quarter of the timeout, samples the count: the cut comes at
 * most a quarter late, and a busy transfer costs one comparison per quarter, nothing per chunk.
 */
export class IdleWatch {
  private seen: number;
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
    sock.once('close', this.stop);
  }

  /** The connection now goes through `sock` (TLS on the TCP handle). */
  follow(sock: net.Socket): void {
    this.sock = sock;
    sock.once('close', this.stop);
  }

  readonly stop = (): void => clearTimeout(this.timer);

  private readonly check = (): void => {
    const now = Date.now();
    const p = progress(this.sock);
    // A download: the kernel takes more of it only once a third or so of its send buffer (up to
    // 4 MiB here) has left over the network, so on a slow link a download that still moves shows
    // no progress for that long. Downloads get twice the time (a client that stopped reading: 2x).
    const limit = this.sock.bytesWritten > this.sock.bytesRead ? 2 * this.ms : this.ms;
    if (p !== this.seen) [this.seen, this.since] = [p, now];
    else if (now - this.since >= limit) {
      const idleMs = now - this.since;
      this.logger.info({ idleMs }, `data connection idle for ${Math.round(idleMs / 1000)} s: closed`);
      this.sock.destroy();
      return;
    }
    this.timer = setTimeout(this.check, Math.max(1, Math.min(this.step, this.since + limit - now)));
  };
}

/** Bytes read plus bytes written whose write completed (the kernel has them). */
function progress(sock: net.Socket): number {
  return sock.bytesRead + sock.bytesWritten - sock.writableLength;
}
