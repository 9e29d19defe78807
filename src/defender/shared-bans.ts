import type { Ban } from './defender.js';

/**
 * Bans shared by several Ferry nodes (the database): a ban raised or lifted on one node is recorded
 * here and reaches every other node's defender. A ban whose `until` has passed is an ended one
 * (lifted early, or expired), still counted for the next ban's length.
 */
export interface SharedBans {
  /** Every ban still worth knowing: the active ones and the ended ones that count for repeats. */
  load(sinceMs: number): Promise<Ban[]>;
  /** Records a ban raised or lifted on this node (kept and retried while the store is away). */
  save(ban: Ban): void;
  /** Calls `listener` with each ban recorded by any node, and all of them again after an outage. */
  onChange(listener: (ban: Ban) => void): () => void;
  /** Active bans, soonest to end first (for `ferry bans list`). */
  list(): Promise<Ban[]>;
  /** Lifts the ban on `address` now; false when it was not banned. */
  remove(address: string): Promise<boolean>;
  close(): Promise<void>;
}
