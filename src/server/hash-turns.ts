import { FairSlots, type SlotLimits } from './fair-slots.js';

/**
 * HASH costs a whole file read for a few bytes from the client: the reads a process runs at once
 * are a budget no user may own. At most `overall` HASHes run at once in this process and `perUser`
 * per user; the others wait, the users with waiting HASHes taking turns (round robin), so another
 * user's HASH waits for at most one running HASH to end, however many one user queues. A waiter is
 * told each time a HASH ends or a running one reads more (the queue moves: the command time limit
 * sees it move; a wait behind a HASH stuck in its read is still cut), and leaves the queue when its
 * signal aborts (ABOR, QUIT, the session ending).
 */

export interface HashLimits {
  readonly overall: number;
  readonly perUser: number;
}

/** What a HASH that has to wait is told: that it waits, then each time the queue moves. */
export interface TurnHooks {
  waiting(): void;
  moved(): void;
}

/** A running HASH's place: given back once, and told of each chunk it reads. */
export interface HashSlot {
  release(): void;
  read(): void;
}

export class HashTurns {
  readonly #slots: FairSlots;
  /** The hooks of the HASHes waiting now, told each time the queue moves. */
  readonly #waiting = new Set<{ readonly hooks: TurnHooks }>();

  constructor(limits: HashLimits) {
    this.#slots = new FairSlots(slotLimits(limits));
  }

  /** New limits (a reload): waiters start at once if they now fit. */
  setLimits(limits: HashLimits): void {
    this.#slots.setLimits(slotLimits(limits));
  }

  /**
   * Resolves, in `user`'s turn, with its slot (given back as well when `signal` aborts). Rejects
   * with the signal's reason if it aborts first.
   */
  take(user: string, signal: AbortSignal, hooks: TurnHooks): Promise<HashSlot> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const waiter = { hooks };
      let started = false;
      const onAbort = (): void => {
        this.#waiting.delete(waiter);
        withdraw();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const withdraw = this.#slots.enter(user, (slot) => {
        started = true;
        this.#waiting.delete(waiter);
        signal.removeEventListener('abort', onAbort);
        let held = true;
        const release = (): void => {
          if (!held) return;
          held = false;
          signal.removeEventListener('abort', release);
          slot.release();
          this.#moved();
        };
        signal.addEventListener('abort', release, { once: true });
        resolve({ release, read: () => this.#moved() });
      });
      if (started) return;
      this.#waiting.add(waiter);
      hooks.waiting();
    });
  }

  /** HASHes waiting now (tests). */
  get waiting(): number {
    return this.#slots.waiting;
  }

  #moved(): void {
    for (const w of this.#waiting) w.hooks.moved();
  }
}

function slotLimits(limits: HashLimits): SlotLimits {
  return { overall: limits.overall, perKey: limits.perUser };
}
