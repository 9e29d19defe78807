/**
 * Slots for costly work (password checks, HASH reads) under two bounds: at most `overall` at once
 * and `perKey` per key (an address, a user). The rest wait, and the keys with waiting work take
 * turns (round robin), so one key's work waits for at most one running job to end, however much
 * another key queues. The shared core of PasswordCheckQueue and HashTurns.
 */

export interface SlotLimits {
  readonly overall: number;
  readonly perKey: number;
}

/** A running job's place. */
export interface Slot {
  /** Gives back the overall slot early, keeping the key's (a job that now waits, not computes). */
  leaveOverall(): void;
  /** Gives back the key's slot early (a job that waits on something else: not the key's to bound). */
  leaveKey(): void;
  /** Gives back what it still holds; later calls do nothing. */
  release(): void;
}

type Start = (slot: Slot) => void;

interface Key {
  running: number;
  readonly waiting: Start[];
}

export class FairSlots {
  /** Jobs holding an overall slot. */
  #running = 0;
  readonly #keys = new Map<string, Key>();
  /** Keys with waiting jobs that may start one, in turn order. */
  readonly #turns: string[] = [];

  constructor(private limits: SlotLimits) {}

  /** New limits (a reload): waiting jobs start at once if they now fit. */
  setLimits(limits: SlotLimits): void {
    this.limits = limits;
    for (const key of this.#keys.keys()) this.#queue(key);
    this.#dispatch();
  }

  /**
   * Queues a job of `key`: `start` runs in its turn (possibly at once, before this returns) with
   * the slot it holds. Returns `withdraw`, which takes the job out of the line if it has not
   * started (after that it does nothing: the slot is the job's to release).
   */
  enter(key: string, start: Start): () => void {
    let k = this.#keys.get(key);
    if (!k) this.#keys.set(key, (k = { running: 0, waiting: [] }));
    const entry = k;
    // Its own job, even where one function is queued twice.
    const job: Start = (slot) => start(slot);
    entry.waiting.push(job);
    this.#queue(key);
    this.#dispatch();
    return () => {
      const i = entry.waiting.indexOf(job);
      if (i >= 0) entry.waiting.splice(i, 1);
      this.#forget(key, entry);
    };
  }

  /** Jobs waiting now (for tests and metrics). */
  get waiting(): number {
    let n = 0;
    for (const k of this.#keys.values()) n += k.waiting.length;
    return n;
  }

  /** A key at its own limit gets its turn back when one of its jobs ends, behind the others. */
  #queue(key: string): void {
    const k = this.#keys.get(key);
    if (k && k.waiting.length > 0 && k.running < this.limits.perKey && !this.#turns.includes(key))
      this.#turns.push(key);
  }

  #dispatch(): void {
    // Each pass starts a job or drops a key from the turns: it ends.
    while (this.#running < this.limits.overall) {
      const key = this.#turns.shift();
      if (key === undefined) return;
      const k = this.#keys.get(key);
      if (!k || k.running >= this.limits.perKey) continue;
      const start = k.waiting.shift();
      if (!start) continue;
      start(this.#occupy(key, k));
      this.#queue(key);
    }
  }

  #occupy(key: string, k: Key): Slot {
    this.#running++;
    k.running++;
    let overall = true;
    let keyed = true;
    let held = true;
    const leaveKey = (): void => {
      keyed = false;
      k.running--;
      // Back in turn, at the end of the line.
      this.#queue(key);
      this.#forget(key, k);
    };
    return {
      leaveOverall: () => {
        if (!held || !overall) return;
        overall = false;
        this.#running--;
        this.#dispatch();
      },
      leaveKey: () => {
        if (!held || !keyed) return;
        leaveKey();
        this.#dispatch();
      },
      release: () => {
        if (!held) return;
        held = false;
        if (overall) this.#running--;
        if (keyed) leaveKey();
        this.#dispatch();
      },
    };
  }

  #forget(key: string, k: Key): void {
    if (k.running === 0 && k.waiting.length === 0) this.#keys.delete(key);
  }
}
