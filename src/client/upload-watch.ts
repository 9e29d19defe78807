import type * as net from 'node:net';
import type { Writable } from 'node:stream';
import { unacknowledged, waitingForKernel } from './send-queue.js';

/** The most an upload may still have in the kernel's buffers (and a slow server's) once sent. */
const BUFFERED_MAX = 4 * 1024 * 1024;
/** Where the send queue cannot be seen: the slowest rate the buffered rest is waited for at. */
const SLOWEST_RATE = 16 * 1024;

/**
 * An upload's stall detection, in place of the socket's idle timer: that timer lets a write that
 * waits from the start run a second period (a stall took twice the timeout), and sees nothing once
 * the last byte is in the kernel's buffers (megabytes on loopback), where it may stay for as long
 * as a slow server takes to read it. Progress, checked a few times per timeout: a write issued or
 * taken further by the kernel, or sent bytes acknowledged by the server (send-queue.ts).
 * `onStall`: none for `ms` (after the end: with bytes still unacknowledged); `waitingOnSource` when
 * the data connection had nothing left to send before the end (`written` and the kernel's queue
 * empty): what stalled is what feeds the upload, not the connection. After `end()`, with
 * everything acknowledged and the connection still open `ms` later, `onOpen` (the server's close is
 * what is waited for). Where the send queue cannot be seen, `onOpen` comes after `ms` plus what the
 * buffered rest could take at SLOWEST_RATE.
 */
export class UploadWatch {
  private since = Date.now();
  private sent = 0;
  private waiting = 0;
  private left: number | undefined;
  private ended = false;
  private checking = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly raw: net.Socket,
    /** What the upload writes to: the TLS socket over `raw`, or `raw`. */
    private readonly written: Writable,
    private readonly bytes: () => number,
    private readonly ms: number,
    private readonly onStall: (waitingOnSource: boolean) => void,
    private readonly onOpen: () => void,
  ) {
    this.timer = setInterval(() => void this.check(), Math.max(50, Math.min(1000, ms / 4)));
  }

  /** The last byte went to the kernel: from now on only acknowledgements are progress. */
  end(): void {
    this.ended = true;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const sent = this.bytes();
      const waiting = waitingForKernel(this.raw);
      // Before the end a pending write shows the server's reading as well (and costs no file read).
      const left = this.ended ? await unacknowledged(this.raw) : undefined;
      const acknowledged = left !== undefined && (this.left === undefined || left < this.left);
      if (sent > this.sent || waiting !== this.waiting || acknowledged) this.since = Date.now();
      this.sent = sent;
      this.waiting = waiting;
      this.left = left;
      const idle = Date.now() - this.since;
      if (!this.ended || waiting > 0 || (left ?? 0) > 0) {
        const waitingOnSource = !this.ended && waiting === 0 && this.written.writableLength === 0;
        if (idle >= this.ms) this.fire(() => this.onStall(waitingOnSource));
      } else {
        const blind = left === undefined ? (Math.min(sent, BUFFERED_MAX) / SLOWEST_RATE) * 1000 : 0;
        if (idle >= this.ms + blind) this.fire(this.onOpen);
      }
    } finally {
      this.checking = false;
    }
  }

  private fire(fn: () => void): void {
    this.stop();
    fn();
  }
}
