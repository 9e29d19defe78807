// What each user with a quota stores, kept in `<dataDir>/usage.json` so that it survives restarts
// and is shared by every process that serves the user (the workers of `--workers N`, and `ferry
// users` for show and rescan): each change is a read-modify-write under the file's lock.
import { z } from 'zod';
import { writeAtomically } from '../atomic-file.js';
import { withFileLock } from '../file-lock.js';
import { readStateFile } from '../state-file.js';

/** Bytes and regular files a user stores (the same shape as storage's Usage). */
export interface StoredUsage {
  bytes: number;
  files: number;
}

const count = z.number().int().nonnegative();
const fileSchema = z.object({
  users: z.record(z.string(), z.object({ bytes: count, files: count })).default({}),
});

export class UsageFile {
  /** Changes from this process, one at a time (the lock file orders them against other processes). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  async get(username: string): Promise<StoredUsage | undefined> {
    return (await this.#read())[username];
  }

  /** Stores a scanned usage unless a record appeared meanwhile; returns the record. */
  init(username: string, usage: StoredUsage): Promise<StoredUsage> {
    return this.#edit((users) => (users[username] ??= usage));
  }

  /** Adds `delta` to an existing record (never below 0); without a record, nothing. */
  add(username: string, delta: StoredUsage): Promise<void> {
    return this.#edit((users) => {
      const u = users[username];
      if (!u) return;
      u.bytes = Math.max(0, u.bytes + delta.bytes);
      u.files = Math.max(0, u.files + delta.files);
    });
  }

  /** Replaces the record (a rescan). */
  set(username: string, usage: StoredUsage): Promise<void> {
    return this.#edit((users) => void (users[username] = usage));
  }

  /** Drops the record: the next use counts the user's files again. */
  forget(username: string): Promise<void> {
    return this.#edit((users) => void delete users[username]);
  }

  #edit<T>(change: (users: Record<string, StoredUsage>) => T): Promise<T> {
    const run = this.#queue.then(() =>
      withFileLock(this.file, async () => {
        const users = await this.#read();
        const result = change(users);
        await writeAtomically(this.file, `${JSON.stringify({ users }, null, 1)}\n`);
        return result;
      }),
    );
    this.#queue = run.catch(() => {});
    return run;
  }

  async #read(): Promise<Record<string, StoredUsage>> {
    const text = await readStateFile(this.file);
    if (text === undefined) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // A damaged file counts as empty: every user is counted again at next use (or by rescan).
    const r = fileSchema.safeParse(parsed);
    return r.success ? r.data.users : {};
  }
}
