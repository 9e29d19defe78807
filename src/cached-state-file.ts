// A state file that every call reads (cut-uploads.json: each resume, each replacing upload, each
// SIZE of a user who may overwrite) is parsed again only when its text changed, and read again
// only when it may have changed. Its text is compared with the text last parsed: a file's identity
// (inode, size, times) cannot tell versions apart in general, as ext4 hands a replaced file's
// inode to the next one and coarse timestamps repeat within a clock tick. It can for a version
// whose change time was SETTLED_MS old when its identity was taken (before its text was read): a
// later version is made later, so its change time is past that moment and differs even on a coarse
// clock. Such a file's text is not read again while its lstat shows the same identity; another
// process's replacement (a worker's, or an in-place write) changes it and is read.
import { lstat } from 'node:fs/promises';
import { readStateFile } from './state-file.js';

/** Past a clock tick of any filesystem (FAT: 2 s): a version this old is told apart by its identity. */
export const SETTLED_MS = 3000;

interface Identity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  // Milliseconds are enough: a settled version's successor is SETTLED_MS later.
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs
  );
}

export class CachedStateFile<T> {
  #cached:
    | {
        readonly text: string | undefined;
        readonly value: T;
        /** The identity of the version `text` was read from, once settled (its text then not read). */
        readonly settled?: Identity | undefined;
      }
    | undefined;
  readonly #now: () => number;

  /** `parse` makes the value of the file's text (undefined: the file does not exist). */
  constructor(
    readonly file: string,
    private readonly parse: (text: string | undefined) => T,
    o: { now?: () => number } = {},
  ) {
    this.#now = o.now ?? Date.now;
  }

  /** The file's value, parsed again only if its text is not the one last read or written. */
  async read(): Promise<T> {
    const seen = await this.#identity(); // before the text: a version written after it differs
    const cached = this.#cached;
    if (seen && cached?.settled && sameIdentity(seen, cached.settled)) return cached.value;
    const text = seen === null ? undefined : await readStateFile(this.file);
    const settled = seen && this.#now() - seen.ctimeMs >= SETTLED_MS ? seen : undefined;
    const value = cached !== undefined && cached.text === text ? cached.value : this.parse(text);
    this.#cached = { text, value, settled };
    return value;
  }

  /** `text`, whose value is `value`, was just written to the file: the next read need not parse it. */
  wrote(text: string, value: T): void {
    this.#cached = { text, value };
  }

  /** The file's identity; null: no file; undefined: not known (not a plain file, or lstat failed). */
  async #identity(): Promise<Identity | null | undefined> {
    try {
      const st = await lstat(this.file);
      return st.isFile() ? st : undefined; // a link: the read refuses it
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
    }
  }
}
