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

interface Waiter {
  start(): void;
  readonly hooks: TurnHooks;
}

interface PerUser {
  running: number;
  readonly waiting: Waiter[];
}

export class HashTurns {
  private running = 0;
  private readonly users = new Map<string, PerUser>();
  /** Users with waiting HASHes that may start one, in turn order. */
  private readonly turns: string[] = [];

  constructor(private limits: HashLimits) {}

  /** New limits (a reload): waiters start at once if they now fit. */
  setLimits(limits: HashLimits): void {
    this.limits = limits;
    for (const user of this.users.keys()) this.queue(user);
    this.dispatch();
  }

  /**
   * Resolves, in `user`'s turn, with its slot (given back as well when `signal` aborts). Rejects
   * with the signal's reason if it aborts first.
   */
  take(user: string, signal: AbortSignal, hooks: TurnHooks): Promise<HashSlot> {
    signal.throwIfAborted();
    const u = this.entry(user);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = u.waiting.indexOf(w);
        if (i >= 0) u.waiting.splice(i, 1);
        this.forget(user, u);
        reject(signal.reason);
      };
      const w: Waiter = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          const release = this.occupy(user, u);
          signal.addEventListener('abort', release, { once: true });
          resolve({
            release: () => {
              signal.removeEventListener('abort', release);
              release();
            },
            read: () => this.moved(),
          });
        },
        hooks,
      };
      signal.addEventListener('abort', onAbort, { once: true });
      u.waiting.push(w);
      this.queue(user);
      this.dispatch();
      if (u.waiting.includes(w)) hooks.waiting();
    });
  }

  /** HASHes waiting now (tests). */
  get waiting(): number {
    let n = 0;
    for (const u of this.users.values()) n += u.waiting.length;
    return n;
  }

  private queue(user: string): void {
    const u = this.users.get(user);
    if (u && u.waiting.length > 0 && u.running < this.limits.perUser && !this.turns.includes(user))
      this.turns.push(user);
  }

  private dispatch(): void {
    // Each pass starts a HASH or drops a user from the turns: it ends.
    while (this.running < this.limits.overall && this.turns.length > 0) {
      const user = this.turns.shift();
      const u = user === undefined ? undefined : this.users.get(user);
      if (user === undefined || !u || u.waiting.length === 0 || u.running >= this.limits.perUser) continue;
      u.waiting.shift()?.start();
      this.queue(user);
    }
  }

  private occupy(user: string, u: PerUser): () => void {
    this.running++;
    u.running++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.running--;
      u.running--;
      // Back in turn, at the end of the line.
      this.queue(user);
      this.forget(user, u);
      this.dispatch();
      this.moved();
    };
  }

  private moved(): void {
    for (const u of this.users.values()) for (const w of u.waiting) w.hooks.moved();
  }

  private entry(user: string): PerUser {
    let u = this.users.get(user);
    if (!u) this.users.set(user, (u = { running: 0, waiting: [] }));
    return u;
  }

  private forget(user: string, u: PerUser): void {
    if (u.running === 0 && u.waiting.length === 0) this.users.delete(user);
  }
}
