/** The seconds the rate is taken over: long enough to smooth a bursty link, short enough to show a stall. */
export const PACE_WINDOW_S = 10;

/**
 * A transfer's pace as `ferry who` shows it (ProFTPD's ftpwho shows a rate and "stalled"): bytes
 * per second over the last PACE_WINDOW_S seconds, and how long since bytes last moved. A byte
 * count alone looks the same for a transfer that moves and for one whose client stopped reading.
 * One counter per whole second in a ring: a chunk costs a clock read and an addition.
 */
export class TransferPace {
  /** Bytes moved in each of the last PACE_WINDOW_S whole seconds, by second modulo the window. */
  private readonly perSecond = new Float64Array(PACE_WINDOW_S);
  /** The whole second (of the epoch) `perSecond` ends at. */
  private second: number;
  private movedAt: number;

  constructor(private readonly startedAt = Date.now()) {
    this.second = Math.floor(startedAt / 1000);
    this.movedAt = startedAt;
  }

  add(bytes: number, now = Date.now()): void {
    if (bytes <= 0) return;
    this.advance(now);
    this.perSecond[this.second % PACE_WINDOW_S] = (this.perSecond[this.second % PACE_WINDOW_S] ?? 0) + bytes;
    this.movedAt = now;
  }

  /** Bytes per second over the last PACE_WINDOW_S seconds (or since the start, 1 s at least), whole. */
  bytesPerSecond(now = Date.now()): number {
    this.advance(now);
    const windowStart = (this.second - PACE_WINDOW_S + 1) * 1000;
    const spanMs = Math.max(1000, now - Math.max(windowStart, this.startedAt));
    const bytes = this.perSecond.reduce((a, b) => a + b, 0);
    return Math.round((bytes * 1000) / spanMs);
  }

  /** Whole seconds since bytes last moved (since the start while none has). */
  sinceProgressSeconds(now = Date.now()): number {
    return Math.max(0, Math.floor((now - this.movedAt) / 1000));
  }

  /** Moves the ring to `now`'s second, emptying the seconds passed without bytes. */
  private advance(now: number): void {
    const s = Math.floor(now / 1000);
    if (s <= this.second) return;
    for (let k = this.second + 1; k <= Math.min(s, this.second + PACE_WINDOW_S); k++)
      this.perSecond[k % PACE_WINDOW_S] = 0;
    this.second = s;
  }
}
