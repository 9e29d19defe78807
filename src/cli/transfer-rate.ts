/**
 * The rate and ETA a progress line shows, from the bytes seen over the last few seconds. A transfer
 * reports every 16-32 KiB chunk, often several within one millisecond: cli-progress's own ETA (the
 * mean of its last 10 per-update rates) then divided by time differences of 0 and jumped (`ETA 7s`,
 * `ETA 0s` at 30 %, `ETA 5s`). A window measured in time, not in updates, keeps it steady.
 */

/** How far back the rate looks. */
export const RATE_WINDOW_MS = 5000;
/** Less time than this says nothing yet about the rate (no ETA shown). */
const MIN_SPAN_MS = 200;

export class TransferRate {
  /** (time, bytes) samples, oldest first; the first may be older than the window (its anchor). */
  private readonly samples: { t: number; bytes: number }[] = [];
  /** Whether bytes moved since the start (or the restart). */
  private moving = false;

  /** Bytes done at time `t` (ms). */
  add(t: number, bytes: number): void {
    const previous = this.samples.at(-1);
    // Fewer bytes than before: the transfer started over (a retry); so does the rate.
    if (previous && bytes < previous.bytes) {
      this.samples.length = 0;
      this.moving = false;
    }
    // The rate counts from the first bytes: the time before them (EPSV, RETR, the data
    // connection's TLS handshake: 0.6 s over a 150 ms round trip) showed 5.75 KiB/s, ETA 10m59s,
    // of data arriving at 122 KiB/s.
    if (!this.moving && previous && bytes > previous.bytes) {
      this.moving = true;
      this.samples.length = 0;
    }
    const last = this.samples.at(-1);
    // Chunks of one socket read arrive in the same millisecond: one sample.
    if (last && last.t === t) last.bytes = bytes;
    else this.samples.push({ t, bytes });
    // Keep one sample at or before the window's start, so the span covers the whole window.
    while (this.samples.length > 2 && (this.samples[1]?.t ?? t) <= t - RATE_WINDOW_MS) this.samples.shift();
  }

  /** Bytes per second over the window, or undefined while it spans too little time. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.t - first.t < MIN_SPAN_MS) return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }

  /** Seconds left to reach `total` at that rate (NaN when unknown). */
  etaSeconds(total: number | undefined): number {
    const rate = this.rate();
    const last = this.samples.at(-1);
    if (total === undefined || rate === undefined || rate <= 0 || !last) return NaN;
    return Math.max(total - last.bytes, 0) / rate;
  }
}
