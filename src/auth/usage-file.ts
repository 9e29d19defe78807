// What each user with a quota stores, kept in `<dataDir>/usage.json` so that it survives restarts
// and is shared by every process that serves the user (the workers of `--workers N`, and `ferry
// users` for show and rescan): each change is a read-modify-write under the file's lock.
import * as z from 'zod';
import { writeAtomically } from '../atomic-file.js';
import { RetriedWrite } from '../retried-write.js';
import { withFileLock } from '../file-lock.js';
import { silentLogger, type Logger } from '../logger.js';
import { readStateFile } from '../state-file.js';
import { USAGE_RETRY_MESSAGES, warnUnwritten } from '../storage/quota.js';

/** Bytes and regular files a user stores (the same shape as storage's Usage). */
export interface StoredUsage {
  bytes: number;
  files: number;
}

/** What this process could not write yet for one user: a first count, and changes since. */
interface Pending {
  scanned?: StoredUsage;
  delta: StoredUsage;
}

const sameUsage = (a: StoredUsage | undefined, b: StoredUsage | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.bytes === b.bytes && a.files === b.files);

const count = z.number().int().nonnegative();
const fileSchema = z.object({
  users: z.record(z.string(), z.object({ bytes: count, files: count })).default({}),
});

/**
 * A change the file cannot take now (a full disk, its directory read-only, the lock held too long)
 * is kept in memory, counted by `get` (quotas hold against it) and retried until it is written:
 * a completed upload is never dropped from the count, whatever the disk does. What is still not
 * written at close() is lost, and said so.
 */
export class UsageFile {
  /** Reads and changes from this process, one at a time (the lock file orders the changes against other processes). */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #pending = new Map<string, Pending>();
  readonly #writes: RetriedWrite;
  readonly #logger: Logger;

  constructor(
    readonly file: string,
    logger: Logger = silentLogger,
  ) {
    this.#logger = logger;
    this.#writes = new RetriedWrite(
      logger,
      USAGE_RETRY_MESSAGES,
      () => this.#writePending(),
      () => ({ file: this.file, users: [...this.#pending.keys()] }),
    );
  }

  /** The record plus what this process has not been able to write yet. */
  get(username: string): Promise<StoredUsage | undefined> {
    // In the queue: never between a write of pending changes and their leaving #pending.
    return this.#inTurn(async () => this.#withPending(username, (await this.#read())[username]));
  }

  /** Stores a scanned usage unless a record appeared meanwhile; returns the record. */
  async init(username: string, usage: StoredUsage): Promise<StoredUsage> {
    try {
      const stored = await this.#edit((users) => ({ ...(users[username] ??= usage) }));
      return this.#withPending(username, stored) ?? stored;
    } catch (err) {
      (this.#pending.get(username) ?? this.#track(username)).scanned ??= usage;
      this.#writes.failed(err);
      return this.#withPending(username, undefined) ?? usage;
    }
  }

  /** Adds `delta` to an existing record (never below 0); without a record, nothing. Never fails. */
  async add(username: string, delta: StoredUsage): Promise<void> {
    if (delta.bytes === 0 && delta.files === 0) return;
    const p = this.#pending.get(username) ?? this.#track(username);
    p.delta.bytes += delta.bytes;
    p.delta.files += delta.files;
    await this.flush();
  }

  /** Replaces the record. */
  async set(username: string, usage: StoredUsage): Promise<void> {
    await this.replace(username, 'any', usage);
  }

  /**
   * Stores `to` if the file's record is still `from` and this process has no change of the user
   * still to write (see UsageLedger): such a change may be missing from `to`, as another process's.
   * What is pending is left alone: a change that arrives while `to` is written is added to it after.
   * With 'any', what is pending when called is taken as counted in `to`.
   */
  async replace(username: string, from: StoredUsage | undefined | 'any', to: StoredUsage): Promise<boolean> {
    if (from === 'any') this.#pending.delete(username);
    return this.#edit((users) => {
      if (from !== 'any' && (this.#pending.has(username) || !sameUsage(users[username], from))) return false;
      users[username] = { ...to };
      return true;
    });
  }

  /** Drops the record: the next use counts the user's files again. */
  async forget(username: string): Promise<void> {
    await this.#edit((users) => void delete users[username]);
    this.#pending.delete(username);
  }

  /** Changes not written yet, per user (tests). */
  get pending(): ReadonlyMap<string, Readonly<Pending>> {
    return this.#pending;
  }

  /** Writes what is pending; resolves when done or when the write failed (then retried). */
  flush(): Promise<void> {
    return this.#writes.flush();
  }

  /**
   * At shutdown: no more retries, a last write, and a warning naming what it could not write (the
   * file then counts less than the users store: `ferry users rescan` counts them again).
   */
  async close(): Promise<void> {
    await this.#writes.close();
    const pending = [...this.#pending].map(([name, p]): [string, StoredUsage] => [name, p.delta]);
    warnUnwritten(this.#logger, pending, { file: this.file });
  }

  /** Throws when a write failed: what it held stays pending. */
  async #writePending(): Promise<void> {
    // Again while changes arrive during a write: each is written before flush resolves.
    while (this.#pending.size > 0) {
      const batch = [...this.#pending].map(([name, p]) => ({
        name,
        from: p,
        scanned: p.scanned,
        delta: { ...p.delta },
      }));
      const apply = (users: Record<string, StoredUsage>): void => {
        for (const { name, scanned, delta } of batch) {
          if (scanned) users[name] ??= scanned;
          const u = users[name];
          if (!u) continue; // no record (a rescan or rm dropped it): counted again at next use
          u.bytes = Math.max(0, u.bytes + delta.bytes);
          u.files = Math.max(0, u.files + delta.files);
        }
      };
      // Taken out of #pending at once when written: what arrived meanwhile stays.
      const written = (): void => {
        for (const { name, from, scanned, delta } of batch) {
          const p = this.#pending.get(name);
          if (p !== from) continue; // dropped meanwhile (set, forget): a later change is not this one
          if (scanned) delete p.scanned;
          p.delta.bytes -= delta.bytes;
          p.delta.files -= delta.files;
          if (!p.scanned && p.delta.bytes === 0 && p.delta.files === 0) this.#pending.delete(name);
        }
      };
      await this.#edit(apply, written);
    }
  }

  #track(username: string): Pending {
    const p: Pending = { delta: { bytes: 0, files: 0 } };
    this.#pending.set(username, p);
    return p;
  }

  #withPending(username: string, stored: StoredUsage | undefined): StoredUsage | undefined {
    const p = this.#pending.get(username);
    const base = stored ?? p?.scanned;
    if (!base || !p) return base;
    return { bytes: Math.max(0, base.bytes + p.delta.bytes), files: Math.max(0, base.files + p.delta.files) };
  }

  /** `change` under the file's lock; `written` runs once the file holds it, still in turn. */
  #edit<T>(change: (users: Record<string, StoredUsage>) => T, written?: () => void): Promise<T> {
    return this.#inTurn(() =>
      withFileLock(
        this.file,
        async () => {
          const users = await this.#read();
          const result = change(users);
          await writeAtomically(this.file, `${JSON.stringify({ users }, null, 1)}\n`);
          written?.();
          return result;
        },
        { onTakeover: (m) => this.#logger.warn({ file: this.file }, m) },
      ),
    );
  }

  #inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
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
