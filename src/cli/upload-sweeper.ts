import path from 'node:path';
import type { Logger } from '../logger.js';
import { sweepStaleUploads } from '../storage/upload-temp.js';

/**
 * Removes upload temp files that no upload will finish, under the users' host homes, in the
 * background, one home after the other so that a huge tree never delays anything: at the start
 * (a server killed mid-upload left them) and whenever a worker died while serving (its uploads'
 * files, until then live, are stale once its pid is gone). Live uploads are kept. One sweep at a
 * time; asked again meanwhile, it sweeps once more after.
 */
export class UploadSweeper {
  readonly #abort = new AbortController();
  #running = false;
  #again = false;

  constructor(
    /** The homes as configured now (a reload may change them). */
    private readonly homes: () => readonly string[],
    private readonly logger: Logger,
  ) {}

  run(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void this.#loop();
  }

  /** Stops a sweep under way (between directories) and any to come. */
  stop(): void {
    this.#abort.abort();
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      for (const home of new Set(this.homes().map((h) => path.resolve(h)))) {
        if (this.#abort.signal.aborted) break;
        try {
          const removed = await sweepStaleUploads(home, this.#abort.signal);
          this.logger.info({ home, removed }, 'stale upload temp files removed');
        } catch (err) {
          this.logger.warn({ home, err: (err as Error).message }, 'could not sweep stale upload temp files');
        }
      }
    } while (this.#again && !this.#abort.signal.aborted);
    this.#running = false;
  }
}
