// A state file that every call reads (cut-uploads.json: each resume, each replacing upload) is
// parsed again only when its text changed. The text is read each time (a read is cheap; parsing
// and checking a big file is not) and compared with the text last parsed: a file's identity
// (inode, size, times) cannot tell versions apart, as ext4 hands a replaced file's inode to the
// next one and coarse timestamps repeat within a clock tick.
import { readStateFile } from './state-file.js';

export class CachedStateFile<T> {
  #cached: { readonly text: string | undefined; readonly value: T } | undefined;

  /** `parse` makes the value of the file's text (undefined: the file does not exist). */
  constructor(
    readonly file: string,
    private readonly parse: (text: string | undefined) => T,
  ) {}

  /** The file's value, parsed again only if its text is not the one last read or written. */
  async read(): Promise<T> {
    const text = await readStateFile(this.file);
    if (this.#cached !== undefined && this.#cached.text === text) return this.#cached.value;
    const value = this.parse(text);
    this.#cached = { text, value };
    return value;
  }

  /** `text`, whose value is `value`, was just written to the file: the next read need not parse it. */
  wrote(text: string, value: T): void {
    this.#cached = { text, value };
  }
}
