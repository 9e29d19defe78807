// A state file that every call reads (cut-uploads.json: each resume, each replacing upload) is
// parsed again only when it changed. Writers replace it atomically (a new inode), so its identity
// (device, inode, size, modification and change times in ns) tells a new version from the one read.
import type { BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { openStateFile } from './state-file.js';

function identityOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

export class CachedStateFile<T> {
  #cached: { readonly identity: string; readonly value: T } | undefined;

  /** `parse` makes the value of the file's text (undefined: the file does not exist). */
  constructor(
    readonly file: string,
    private readonly parse: (text: string | undefined) => T,
  ) {}

  /** The file's value, parsed again only if the file is not the one last read or written. */
  async read(): Promise<T> {
    const handle = await openStateFile(this.file);
    if (handle === undefined) {
      this.#cached = undefined;
      return this.parse(undefined);
    }
    try {
      // The identity of the file opened, then its text: the two are of the same version.
      const identity = identityOf(await handle.stat({ bigint: true }));
      if (this.#cached?.identity === identity) return this.#cached.value;
      const value = this.parse(await handle.readFile('utf8'));
      this.#cached = { identity, value };
      return value;
    } finally {
      await handle.close();
    }
  }

  /**
   * `value` was just written to the file by its caller, who holds the lock all writers take (no
   * other write can come between): the next read need not parse it.
   */
  async wrote(value: T): Promise<void> {
    try {
      this.#cached = { identity: identityOf(await lstat(this.file, { bigint: true })), value };
    } catch {
      this.#cached = undefined; // read again next time
    }
  }
}
