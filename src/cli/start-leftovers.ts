import { rmdir } from 'node:fs/promises';
import { stillMade, type DataDirClaim } from './data-dir-claim.js';
import { handOver, type SystemUser } from './run-as.js';

/**
 * What a start made before it served, settled when it fails or is stopped first: a data directory
 * it created and left empty is removed; with --run-as, what it made as root (the data directory,
 * the generated certificate and key, the transfer log) is given to the user as a start that drops
 * does, else the next, correct start (as that user) could not write there.
 */
export class StartLeftovers {
  #done = false;
  #giveLog: ((uid: number, gid: number) => void) | undefined;

  constructor(
    private readonly dataDir: DataDirClaim,
    private readonly runAs: SystemUser | undefined,
    /** Ferry's own files in the data directory (handOver's `files`). */
    private readonly files: readonly string[],
  ) {}

  /** The transfer log, once opened: given to the run-as user too. */
  keepLog(giveTo: (uid: number, gid: number) => void): void {
    this.#giveLog = giveTo;
  }

  /** The start went through (it handed over and dropped itself): nothing is left to settle. */
  served(): void {
    this.#done = true;
  }

  async settle(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (this.runAs) this.#giveLog?.(this.runAs.uid, this.runAs.gid);
    // rmdir removes only an empty directory: one holding a key, or anything of another's, stays;
    // and only the one this start made (not one put in its place).
    if (
      (await stillMade(this.dataDir)) &&
      (await rmdir(this.dataDir.dir).then(
        () => true,
        () => false,
      ))
    )
      return;
    if (this.runAs) await handOver(this.files, this.dataDir, this.runAs);
  }
}
