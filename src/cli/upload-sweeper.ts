import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { sweepStaleUploads } from '../storage/upload-temp.js';
import type { UsageLedger } from '../storage/quota.js';

/** What recountUsageIn reads of the server's setup. */
export interface RecountSetup {
  readonly limits: { readonly usage?: { readonly ledger: Pick<UsageLedger, 'charge' | 'forget'> } };
  readonly users: { readonly accounts: readonly (LocalRooted & { readonly username: string })[] };
}

interface LocalRooted {
  readonly home: string;
  readonly folders?: Readonly<Record<string, string>>;
}

/**
 * Drops the shared usage of the users whose home or virtual folder holds one of `dirs`, for a scan
 * to count it again at their next upload: an upload there was cut by its process's death (a node or
 * worker killed), and what it
 * had charged to the database as its bytes came stays there (it never settled). Its temp file does
 * not tell what that was (an APPE's copied prefix is not charged, an overwrite had already given
 * back the old size, a batch may be charged and not written) nor whose upload it was (a home may
 * be shared): refunding its size could count short, a quota bypass; a scan counts what is stored.
 * usage.json needs none of this: a process's uploads are written to it only once they end (one
 * killed between its rename and that write is recounted: usage-recounts.ts).
 */
export async function recountUsageIn(
  dirs: readonly string[],
  setup: RecountSetup,
  logger: Logger,
): Promise<void> {
  const ledger = setup.limits.usage?.ledger;
  if (!ledger?.charge || dirs.length === 0) return;
  const users: string[] = [];
  for (const u of setup.users.accounts) {
    const roots = await Promise.all(localRoots(u).map(real));
    if (dirs.some((d) => roots.some((r) => d === r || d.startsWith(`${r}${path.sep}`))))
      users.push(u.username);
  }
  if (users.length === 0) return;
  try {
    for (const user of users) await ledger.forget(user);
    logger.info(
      { dirs, users },
      'quota usage counted again at the next upload (uploads cut by a dead process)',
    );
  } catch (err) {
    logger.warn(
      { dirs, users, err: (err as Error).message },
      "quota usage of uploads cut by a dead process not dropped: 'ferry users rescan' counts it again",
    );
  }
}

/** An account's host directories: its home and its virtual folders' (object storage left out). */
export function localRoots(u: LocalRooted): string[] {
  return [u.home, ...Object.values(u.folders ?? {})].filter((d) => d !== '' && !d.startsWith('s3://'));
}

/** The directory's real path (the sweep reports real paths), or the path itself when it is gone. */
const real = (dir: string): Promise<string> => realpath(dir).catch(() => path.resolve(dir));

/**
 * Removes upload temp files that no upload will finish, under the users' host homes and folders, in the
 * background, one home after the other so that a huge tree never delays anything: at the start
 * (a server killed mid-upload left them) and whenever a worker died while serving (its uploads'
 * files, until then live, are stale once its pid is gone). Live uploads are kept. One sweep at a
 * time; asked again meanwhile, it sweeps once more after.
 */
export class UploadSweeper {
  readonly #abort = new AbortController();
  #running = false;
  #again = false;
  #sweep: Promise<void> = Promise.resolve();

  constructor(
    /** The homes and folders as configured now (a reload may change them). */
    private readonly homes: () => readonly string[],
    private readonly logger: Logger,
    /** Told of the directories where stale temp files were removed (their uploads' charges are stale too). */
    private readonly swept: (dirs: readonly string[]) => Promise<void> = async () => {},
  ) {}

  run(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#sweep = this.#loop();
  }

  /** Resolves once no sweep is under way (for tests and a stop that waits for it). */
  async settled(): Promise<void> {
    await this.#sweep;
  }

  /** Stops a sweep under way (between directories) and any to come. */
  stop(): void {
    this.#abort.abort();
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      const homes = new Set(this.homes().map((h) => path.resolve(h)));
      let total = 0;
      for (const home of homes) {
        if (this.#abort.signal.aborted) break;
        try {
          const dirs: string[] = [];
          const removed = await sweepStaleUploads(home, this.#abort.signal, (d) => dirs.push(d));
          total += removed;
          // A line per home only where there was something: 5,000 homes are 5,000 lines otherwise.
          if (removed > 0) {
            await this.swept(dirs);
            this.logger.info({ home, removed }, 'stale upload temp files removed');
          }
        } catch (err) {
          this.logger.warn({ home, err: (err as Error).message }, 'could not sweep stale upload temp files');
        }
      }
      if (!this.#abort.signal.aborted)
        this.logger.debug({ homes: homes.size, removed: total }, 'stale upload temp file sweep done');
    } while (this.#again && !this.#abort.signal.aborted);
    this.#running = false;
  }
}
