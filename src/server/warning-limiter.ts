import type { Logger } from '../logger.js';

export interface WarningLimits {
  /** Warnings of one kind from one address written per window; the rest are counted. */
  readonly perWindow: number;
  readonly windowMs: number;
  /** (address, kind) pairs remembered; the least recently seen is summarized and forgotten. */
  readonly maxEntries: number;
}

export const DEFAULT_WARNING_LIMITS: WarningLimits = { perWindow: 5, windowMs: 60_000, maxEntries: 4096 };

interface Entry {
  readonly remote: string;
  readonly msg: string;
  start: number;
  written: number;
  suppressed: number;
}

/**
 * Rate limit for repetitive warnings per remote address (TCP probes of the implicit port, refused
 * data connections, failed logins): the first `perWindow` of a kind per address and window are
 * logged, the rest are counted and reported as one "suppressed K similar" line when the window
 * ends. Memory is bounded (an LRU of `maxEntries`); the only timer runs while something is
 * suppressed. Owned by one server, disposed with it.
 */
export class WarningLimiter {
  private readonly entries = new Map<string, Entry>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly limits: WarningLimits = DEFAULT_WARNING_LIMITS,
  ) {}

  /** Logs `msg` on `log` (a session's child logger, say) unless `remote` has sent too many of it. */
  warn(log: Logger, remote: string, obj: object, msg: string): void {
    const key = `${remote} ${msg}`;
    const now = Date.now();
    let e = this.entries.get(key);
    if (e && now - e.start >= this.limits.windowMs) {
      this.summarize(e);
      e = undefined;
    }
    e ??= { remote, msg, start: now, written: 0, suppressed: 0 };
    this.entries.delete(key); // re-insert: the Map's order is least recently seen first
    this.entries.set(key, e);
    if (this.entries.size > this.limits.maxEntries) this.evictOldest();
    if (e.written < this.limits.perWindow) {
      e.written++;
      log.warn(obj, msg);
      return;
    }
    e.suppressed++;
    this.sweeper ??= setInterval(() => this.sweep(), this.limits.windowMs);
  }

  /** `log` with its warnings rate-limited as coming from `remote` (a session's logger). */
  forAddress(log: Logger, remote: string): Logger {
    return new LimitedLogger(this, log, remote);
  }

  /** Reports what is still suppressed and stops the timer. */
  dispose(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const e of this.entries.values()) this.summarize(e);
    this.entries.clear();
  }

  private sweep(): void {
    const now = Date.now();
    let suppressing = false;
    for (const [key, e] of this.entries) {
      if (now - e.start >= this.limits.windowMs) {
        this.summarize(e);
        this.entries.delete(key);
      } else if (e.suppressed > 0) suppressing = true;
    }
    if (!suppressing) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private evictOldest(): void {
    const oldest = this.entries.entries().next().value;
    if (!oldest) return;
    this.summarize(oldest[1]);
    this.entries.delete(oldest[0]);
  }

  private summarize(e: Entry): void {
    if (e.suppressed === 0) return;
    this.logger.warn(
      { remote: e.remote, suppressed: e.suppressed, warning: e.msg },
      `suppressed ${e.suppressed} similar`,
    );
    e.suppressed = 0;
  }
}

class LimitedLogger implements Logger {
  constructor(
    private readonly limiter: WarningLimiter,
    private readonly log: Logger,
    private readonly remote: string,
  ) {}
  debug(obj: object, msg?: string): void {
    this.log.debug(obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.log.info(obj, msg);
  }
  warn(obj: object, msg = ''): void {
    this.limiter.warn(this.log, this.remote, obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.log.error(obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new LimitedLogger(this.limiter, this.log.child(bindings), this.remote);
  }
}
