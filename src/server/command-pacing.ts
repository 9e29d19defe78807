import { CommandBudget, type CommandRate } from './command-budget.js';

/** What a session's pacing reads and tells (ControlConnection). */
export interface PacingHooks {
  /** The budget now (limits.maxCommandRate, maxCommandBurst: a reload may change them). */
  rate(): CommandRate;
  /** The session is held back for the first time. */
  delayed(rate: CommandRate): void;
  /** It has been held back while pipelining for another flood period. */
  flooded(rate: CommandRate): void;
}

/**
 * One session's command budget at work: charges each command (CommandBudget) and owns the timers
 * of the waits it imposes, a queued command's or an out-of-band one's, which stop() ends.
 */
export class CommandPacing {
  readonly #budget: CommandBudget;
  /** Ends the queued command's wait (its timer cleared): at its time, or at stop(). */
  #waitOver: (() => void) | undefined;
  /** An out-of-band command held back: nothing more is read until it runs. */
  #held: NodeJS.Timeout | undefined;

  constructor(
    private readonly hooks: PacingHooks,
    now?: () => number,
  ) {
    this.#budget = new CommandBudget(now);
  }

  /** Whether an out-of-band command waits (reading stops meanwhile). */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Charges the next command; returns how long it must wait (whole ms). `pipelined`: many commands wait behind it. */
  charge(pipelined: boolean): number {
    const rate = this.hooks.rate();
    const { waitMs, news } = this.#budget.take(rate, pipelined);
    if (news === 'delayed') this.hooks.delayed(rate);
    else if (news === 'flood') this.hooks.flooded(rate);
    return Math.ceil(waitMs);
  }

  /** Waits `ms` before the queued command runs; over at once at stop(). */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const over = (): void => {
        clearTimeout(timer);
        this.#waitOver = undefined;
        resolve();
      };
      const timer = setTimeout(over, ms);
      this.#waitOver = over;
    });
  }

  /** Runs `then` (the held out-of-band command) in `ms`, unless stop() comes first. */
  hold(ms: number, then: () => void): void {
    this.#held = setTimeout(() => {
      this.#held = undefined;
      then();
    }, ms);
  }

  /** The session ended: a held command never runs, a waiting one's wait is over. */
  stop(): void {
    clearTimeout(this.#held);
    this.#held = undefined;
    this.#waitOver?.();
  }
}
