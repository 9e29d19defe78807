/**
 * A session's command-rate budget (ProFTPD's MaxCommandRate, as a token bucket): `perSecond`
 * commands a second sustained, with `burst` of them at once ahead of that rate. A command over the
 * budget is not refused: it waits its turn, as ProFTPD delays its reply, and meanwhile the
 * connection reads nothing more than its queue takes, so the client's own TCP window holds the
 * rest. Pure: the caller waits and reads; the clock is injected.
 */
export interface CommandRate {
  /** Commands a second, sustained; 0 turns the budget off. */
  readonly perSecond: number;
  /** Commands at once ahead of the rate (at least 1). */
  readonly burst: number;
}

/**
 * What charging one command means for its session. `waitMs`: how long before it may run (0: at
 * once). `news`: `delayed` the first time the session is held back (said once); `flood` each time
 * it has been held back while pipelining (many commands waiting) for a whole flood period (scored).
 */
export interface Charge {
  readonly waitMs: number;
  readonly news?: 'delayed' | 'flood';
}

/**
 * Generous: a client that waits for each reply made about 2,000 a second on loopback (ftplib's SIZE
 * after SIZE, on a busy machine), fewer over any network, and 50,000 at once covers a long queue
 * of SIZEs or MDTMs run back to back; a pipelined NOOP flood, 36,000 replies a second unbounded,
 * gets 5,000 (and is scored within a period of 10 s).
 */
export const DEFAULT_COMMAND_RATE: CommandRate = { perSecond: 5_000, burst: 50_000 };

const AT_ONCE: Charge = { waitMs: 0 };

/**
 * How long a session must be held back while pipelining before it counts as a flood: the time
 * its whole burst takes at the rate (50,000 at 5,000 a second: 10 s), at least FLOOD_MIN_MS. By
 * then it has sent twice what the budget allows without waiting for a reply: a client that waits
 * for its replies (FileZilla's SIZE after SIZE, a mirror's MDTMs) or pipelines a few (curl, lftp)
 * is only ever slowed, never scored.
 */
const FLOOD_MIN_MS = 1_000;

export function floodPeriodMs(rate: CommandRate): number {
  return Math.max(FLOOD_MIN_MS, (rate.burst * 1000) / rate.perSecond);
}

/**
 * The bucket in its "theoretical arrival time" form (GCRA): `#due` moves on by one command's
 * interval per command; a command may run once `#due` is at most a burst's worth of intervals ahead.
 */
export class CommandBudget {
  #due = 0;
  #delayed = false;
  /** Since when the session has been held back while pipelining (undefined: it is not). */
  #floodSince: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Charges the next command. `rate` is read per command (a reload may change it); `pipelined`:
   * the client has many commands waiting behind this one (it does not wait for its replies).
   */
  take(rate: CommandRate, pipelined: boolean): Charge {
    if (!(rate.perSecond > 0)) {
      this.#floodSince = undefined;
      return AT_ONCE;
    }
    const now = this.now();
    const interval = 1000 / rate.perSecond;
    const burstMs = Math.max(1, rate.burst) * interval;
    const due = Math.max(this.#due, now) + interval;
    this.#due = due;
    const slack = due - now - burstMs; // > 0: how long to wait
    const waitMs = Math.max(0, slack);
    // Held back: over half its burst spent. Not "has to wait": a wait's timer that fires late (a
    // busy loop) lets the next command go at once, and every few commands would start the period over.
    const held = slack > -Math.max(burstMs / 2, interval);
    const news = this.#news(now, rate, waitMs > 0, pipelined && held);
    if (news) return { waitMs, news };
    return waitMs > 0 ? { waitMs } : AT_ONCE;
  }

  #news(now: number, rate: CommandRate, delayed: boolean, flooding: boolean): Charge['news'] {
    if (!flooding) {
      this.#floodSince = undefined;
    } else if (this.#floodSince === undefined) {
      this.#floodSince = now;
    } else if (now - this.#floodSince >= floodPeriodMs(rate)) {
      this.#floodSince = now; // the next period counts from here
      return 'flood';
    }
    if (!delayed || this.#delayed) return undefined;
    this.#delayed = true;
    return 'delayed';
  }
}
