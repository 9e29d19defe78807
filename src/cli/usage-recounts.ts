// The server counts quota usage again after a crash: an upload renamed into place, or a file
// deleted, whose change was not recorded yet when its process died, left the record off by it
// (recorded only after the change, so that the normal path pays nothing for a crash).
import type { Account } from '../auth/account.js';
import type { Logger } from '../logger.js';
import type { Usage, UsageLedger } from '../storage/quota.js';
import { scanUsage } from '../storage/quota.js';
import type { StorageBackend } from '../storage/types.js';
import { recountable, recountRecorded } from '../storage/usage-recount.js';

/** What a recount reads of the running server (a reload may change it). */
export interface RecountSetup {
  readonly ledger: UsageLedger | undefined;
  /** The account as a login gets it now (userDefaults applied), or undefined. */
  lookup(name: string): Promise<Account | undefined>;
  /** The tree the quota counts for the account (see countedTree). */
  tree(a: Account): StorageBackend;
}

/** Scans at once, at most: a crash of a worker serving many users must not load the disk. */
const PARALLEL = 2;

/** How far a recount moved a record. */
interface Moved {
  user: string;
  bytes: number;
  files: number;
}

/**
 * Recounts users in the background, `PARALLEL` at a time, and logs each batch once when done (how
 * many were recounted, and by how much each moved). Only users with a quota and a record: one
 * without a record is counted by a scan at its next upload anyway.
 */
export class UsageRecounts {
  readonly #abort = new AbortController();
  #running: Promise<void> = Promise.resolve();
  /** Users whose recount has not started yet, in the order asked. */
  readonly #waiting = new Set<string>();
  readonly #next: string[] = [];
  readonly #reasons = new Set<string>();
  /** A round is chained and has not started: new users join it. */
  #scheduled = false;
  /** Rounds asked for and not over yet. */
  #rounds = 0;
  /** A round was cut short (stopped) or failed for a user. */
  #short = false;

  constructor(
    private readonly setup: () => RecountSetup,
    private readonly logger: Logger,
  ) {}

  /**
   * Recounts `names` after `reason` (what the log says happened), in the next round. A user already
   * waiting is not added again (a worker crashing in a loop queues each user once): one whose scan
   * runs now waits once more, since that scan may have passed the change.
   */
  run(names: readonly string[], reason: string): void {
    if (this.#abort.signal.aborted) {
      if (names.length > 0) this.#short = true;
      return;
    }
    const fresh = names.filter((n) => !this.#waiting.has(n));
    if (fresh.length === 0) return;
    for (const n of fresh) this.#waiting.add(n);
    this.#next.push(...fresh);
    this.#reasons.add(reason);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#rounds++;
    this.#running = this.#running.then(() => {
      // The round takes who waits when it starts; those asked for later wait for the next.
      this.#scheduled = false;
      const batch = this.#next.splice(0);
      const why = [...this.#reasons].join(', ');
      this.#reasons.clear();
      return this.#batch(batch, why).finally(() => this.#rounds--);
    });
  }

  /**
   * Every round asked for ran to its end and counted every user: else the records may still be
   * off by a crash (the server's stop then leaves the data directory marked: see serving-mark).
   */
  get complete(): boolean {
    return this.#rounds === 0 && !this.#short;
  }

  /** Resolves once no batch is under way or waiting. */
  async settled(): Promise<void> {
    await this.#running;
  }

  /** Stops (between users) what runs and anything asked for later. */
  stop(): void {
    this.#abort.abort();
  }

  async #batch(names: string[], reason: string): Promise<void> {
    const queue = [...names];
    this.logger.info(
      { after: reason, users: queue.length },
      `quota usage recount after ${reason}: ${queue.length} users`,
    );
    const moved: Moved[] = [];
    const failed: string[] = [];
    const unsettled: string[] = [];
    let recounted = 0;
    const next = async (): Promise<void> => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        if (this.#abort.signal.aborted) return void queue.unshift(name); // left: the round is short
        this.#waiting.delete(name); // asked for again from now on: a scan that follows this one
        try {
          const r = await this.#one(name);
          if (!r) continue;
          recounted++;
          if (r.unsettled) unsettled.push(name);
          const d = { bytes: r.after.bytes - r.before.bytes, files: r.after.files - r.before.files };
          if (d.bytes !== 0 || d.files !== 0) moved.push({ user: name, ...d });
        } catch (err) {
          failed.push(name);
          this.logger.warn({ user: name, err: (err as Error).message }, 'quota recount failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, next));
    if (queue.length > 0 || failed.length > 0) this.#short = true; // stopped, or a user not counted
    if (recounted + failed.length === 0) return;
    this.logger.info(
      {
        reason,
        recounted,
        moved,
        ...(failed.length ? { failed } : {}),
        ...(unsettled.length ? { unsettled } : {}),
      },
      `quota usage recounted after ${reason}: ${moved.length} of ${recounted} users moved`,
    );
  }

  /** The recount of one user; undefined when there is nothing to recount. */
  async #one(name: string): Promise<{ before: Usage; after: Usage; unsettled: boolean } | undefined> {
    const { ledger, lookup, tree } = this.setup();
    const a = await lookup(name);
    if (!a || !(a.quotaSize || a.quotaFiles) || !recountable(ledger)) return undefined;
    const storage = tree(a);
    const c = { sessionId: 'recount', signal: this.#abort.signal };
    const r = await recountRecorded(ledger, name, () => scanUsage(storage, c));
    return r && { before: r.before ?? { bytes: 0, files: 0 }, after: r.after, unsettled: r.unsettled };
  }
}
