// Uploads are atomic: one that is cut leaves the file it would have replaced as it was. A client
// then resumes as GUI clients, lftp and curl do: SIZE (the OLD file's), then REST n + STOR (or
// APPE) of the NEW file's rest, which would splice the old file's start to the new one's end, the
// size right, reported as a success. The file versions such a cut left are remembered here, and
// transfer.ts refuses a resume onto one (the client then uploads the file whole).
//
// With a file (`ferry serve`: <dataDir>/cut-uploads.json) every process of the node sees them (the
// workers of --workers N, where a user's sessions land on different processes); without one, this
// process alone. Changes are read-modify-writes under the file's lock, a process's coalesced into
// one; reads need no lock (the file is replaced atomically). Nodes sharing a database (accounts in
// PostgreSQL) also keep them there (`shared`), so a resume that reaches another node is refused
// too; the file stays this node's record while the database is away. A change the file cannot take
// (its disk full or read-only) stays pending and is retried every second (RetriedWrite, as usage.json):
// dropped, a record would let another worker, or this one after a restart, take the resume.
//
// One user must not slow everyone's uploads nor push out their records: a record is keyed by a
// digest of the path (its size whatever the path's length), a user holds at most MAX_CUTS_PER_USER
// (the oldest go first, in memory, the file and the database alike), and the file is parsed again
// only when another process replaced it, and once its version is 3 s old not even read again until
// then: an lstat tells (CachedStateFile).
import { createHash, randomBytes } from 'node:crypto';
import * as z from 'zod';
import { writeAtomically } from '../atomic-file.js';
import { CachedStateFile } from '../cached-state-file.js';
import { withFileLock } from '../file-lock.js';
import { RetriedWrite } from '../retried-write.js';
import { silentLogger, type Logger } from '../logger.js';
import type { CutRecord, SharedCutUploads } from '../shared-cut-uploads.js';
import { parseStateJson } from '../state-file.js';

/** A file as it stands: storage identity, size, modification time (ms). */
export interface FileVersion {
  readonly id?: string | undefined;
  readonly size: number;
  readonly modified: number;
}

/** Kept this long: a client resumes within minutes or hours, not weeks. */
export const CUT_TTL_MS = 7 * 24 * 3600_000;
/** At most this many records of all users (the oldest go first): the last bound of the file. */
export const MAX_CUTS = 2000;
/**
 * At most this many records of one user (the user's oldest go first): one account's cuts push out
 * only its own records, not those of others (whose resumes they guard).
 */
export const MAX_CUTS_PER_USER = 100;

const entrySchema = z.object({
  id: z.string().optional(),
  size: z.number(),
  modified: z.number(),
  /** When the cut was recorded (ms), for expiry. */
  at: z.number(),
  /** The recording process (CutRecord.tag); files written before tags have none. */
  tag: z.string().optional(),
});
type Entry = z.infer<typeof entrySchema>;
const fileSchema = z.object({ cuts: z.record(z.string(), entrySchema).default({}) });

/**
 * The key of a user's file: the same virtual path names different files for different users. The
 * path is kept as its SHA-256 (hex), so that a record's size does not grow with the path's length.
 */
export function cutKey(username: string, path: string): string {
  return `${username}\u0000${pathDigest(path)}`;
}

/** What a key holds of the path (also the database's `path`: migration 4 turned older rows into it). */
function pathDigest(path: string): string {
  return createHash('sha256').update(path, 'utf8').digest('hex');
}

/** The user name and the path's digest a key was made of. */
function splitCutKey(key: string): [username: string, path: string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** A key of a file written before keys were digests (the full virtual path, from `/`) as it is now. */
function currentKey(key: string): string {
  const [username, path] = splitCutKey(key);
  return path.startsWith('/') ? cutKey(username, path) : key;
}

/** What `remember` did: whether a record of that version stood, and the record it wrote. */
export interface Remembered {
  readonly stood: boolean;
  /** For `forgetOwn`: its `at` is unique within this process, its `tag` this process's. */
  readonly own: CutRecord;
}

/** A pending drop of this process's own records (`forgetOwn`): only if the file holds one of them. */
interface OwnForget {
  readonly own: readonly CutRecord[];
}
/** A change the file does not hold yet: the record to keep, null to drop the key's, or an OwnForget. */
type Change = Entry | null | OwnForget;

function isOwnForget(c: Change | undefined): c is OwnForget {
  return c != null && 'own' in c;
}

/** A key's pending change, by kind (`forgetOwn` decides from it). */
type Pending =
  | { readonly kind: 'none' }
  | { readonly kind: 'forget' }
  | { readonly kind: 'own'; readonly own: readonly CutRecord[] }
  | { readonly kind: 'record'; readonly record: Entry };

function pendingOf(c: Change | undefined): Pending {
  if (c === undefined) return { kind: 'none' };
  if (c === null) return { kind: 'forget' };
  return isOwnForget(c) ? { kind: 'own', own: c.own } : { kind: 'record', record: c };
}

/** Whether `e` is the very record `own` (the same `at`, process and version). */
function isRecord(e: Entry | undefined, own: CutRecord): boolean {
  return e !== undefined && e.at === own.at && e.tag === own.tag && sameVersion(e, own);
}

export function sameVersion(e: FileVersion, v: FileVersion): boolean {
  return e.id === v.id && e.size === v.size && e.modified === v.modified;
}

/** How the retried writes of the file are logged. */
const RETRY_MESSAGES = {
  failing: 'cut upload records not written to their file yet: retrying',
  still: 'cut upload records still not written to their file: retrying',
  done: 'cut upload records written to their file after retries',
} as const;

export class CutUploads {
  /** This process's records (all of them without a file; with one, also those it failed to write). */
  readonly #memory = new Map<string, Entry>();

  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #max: number;
  readonly #maxPerUser: number;
  readonly #shared: SharedCutUploads | undefined;
  /** Changes the file does not hold yet, by key. */
  readonly #pending = new Map<string, Change>();
  /** For a record being kept (#editFile waits): what the file held for its key when it was merged. */
  readonly #replaced = new Map<Entry, Entry | undefined>();
  readonly #writes: RetriedWrite;
  /** The file as last read or written by this process: parsed again only once another replaced it. */
  readonly #cache: CachedStateFile<ReadonlyMap<string, Entry>> | undefined;
  /** The last `at` given: each record's is unique within the process, so `forgetOwn` tells them apart. */
  #lastAt = 0;
  /** Beside `at` in each record: other processes (workers, nodes) may record in the same millisecond. */
  readonly #tag = randomBytes(9).toString('base64url');

  constructor(
    readonly file: string | undefined,
    o: {
      logger?: Logger;
      now?: () => number;
      max?: number;
      maxPerUser?: number;
      shared?: SharedCutUploads | undefined;
    } = {},
  ) {
    this.#logger = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#max = o.max ?? MAX_CUTS;
    this.#maxPerUser = o.maxPerUser ?? MAX_CUTS_PER_USER;
    this.#cache = file === undefined ? undefined : new CachedStateFile(file, (text) => parseCuts(file, text));
    this.#shared = o.shared;
    this.#writes = new RetriedWrite(
      this.#logger,
      RETRY_MESSAGES,
      () => this.#writePending(),
      () => ({ file: this.file, changes: this.#pending.size }),
    );
  }

  /**
   * Remembers that `key` holds `v`, which an upload is replacing (from before its data) or a cut
   * upload left. Resolves once it is in the file too, to whether a record of `v` stood already
   * (an earlier cut's, unexpired: in this process, the file or the database), read where the
   * record is merged (no read of its own), and to the record written; never rejects.
   */
  async remember(key: string, v: FileVersion): Promise<Remembered> {
    const now = this.#now();
    this.#lastAt = now > this.#lastAt ? now : this.#lastAt + 1;
    const entry: Entry = {
      ...(v.id === undefined ? {} : { id: v.id }),
      size: v.size,
      modified: v.modified,
      at: this.#lastAt,
      tag: this.#tag,
    };
    const inMemory = this.#memory.get(key);
    this.#memory.delete(key);
    this.#memory.set(key, entry);
    prune(this.#memory, entry.at, this.#max, this.#maxPerUser);
    const shared = await this.#share(key, (s, ...k) =>
      s.put(...k, entry, { ttlMs: CUT_TTL_MS, max: this.#max, maxPerUser: this.#maxPerUser }),
    );
    const filed = await this.#editFile(key, entry);
    const stood = [inMemory, filed, shared].some(
      (e) => e !== undefined && entry.at - e.at <= CUT_TTL_MS && sameVersion(e, v),
    );
    return { stood, own: entry };
  }

  /** The upload to `key` was stored: whatever was remembered for it is gone (memory and file). */
  async forget(key: string): Promise<void> {
    this.#memory.delete(key);
    await this.#share(key, (s, ...k) => s.delete(...k));
    await this.#editFile(key, null);
  }

  /**
   * The upload that remembered `own` stored nothing (551, no data connection): `own` goes, where it
   * still stands (memory, file, database). A record another session wrote since (the same version,
   * remembered again by a STOR that still runs or was cut) stays: it guards the file.
   */
  async forgetOwn(key: string, own: CutRecord): Promise<void> {
    if (isRecord(this.#memory.get(key), own)) this.#memory.delete(key);
    await this.#share(key, (s, ...k) => s.delete(...k, own.at, own.tag));
    if (this.file === undefined) return;
    const pending = pendingOf(this.#pending.get(key));
    switch (pending.kind) {
      case 'none': // the file may hold `own`
        await this.#editFile(key, { own: [own] });
        return;
      case 'own': // drops of own records not written yet: `own` goes with them
        await this.#editFile(key, { own: [...pending.own, own] });
        return;
      case 'record': // `own` not written yet goes; a later record replaces `own` anyway
        if (isRecord(pending.record, own)) await this.#editFile(key, { own: [own] });
        return;
      case 'forget': // a stored upload's forget is to be written: it drops `own` anyway
        return;
    }
  }

  /**
   * Resolves once the file holds the change, or its write failed (then retried); never rejects.
   * A record kept resolves to the one the file held for `key` before (undefined: none, or unknown).
   */
  async #editFile(key: string, change: Change): Promise<Entry | undefined> {
    if (this.file === undefined) return undefined;
    this.#pending.delete(key); // re-inserted: the newest change last, as the file keeps them
    this.#pending.set(key, change);
    if (change === null || isOwnForget(change)) {
      await this.#writes.flush();
      return undefined;
    }
    this.#replaced.set(change, undefined);
    await this.#writes.flush();
    const before = this.#replaced.get(change);
    this.#replaced.delete(change);
    return before;
  }

  /** Changes the file does not hold yet (tests). */
  get pending(): number {
    return this.#pending.size;
  }

  /** No more retries; a last write, and a warning for what it could not write. */
  async close(): Promise<void> {
    await this.#writes.close();
    if (this.#pending.size > 0) {
      this.#logger.warn(
        { file: this.file, changes: this.#pending.size },
        'cut upload records not written at shutdown: other processes may accept a resume onto what a cut left',
      );
    }
  }

  /**
   * One read-modify-write of the file under its lock for every change pending (100 uploads at
   * once are a few writes, not 200); throws when it could not (the changes stay pending). A busy
   * lock is waited for, however long: a change given up would leave a record that refuses a later
   * resume of a complete upload.
   */
  async #writePending(): Promise<void> {
    const file = this.file;
    const cache = this.#cache;
    if (file === undefined || cache === undefined) return;
    // Again while changes arrive during a write: each is written before flush resolves.
    while (this.#pending.size > 0) {
      const batch = [...this.#pending];
      const onTakeover = (m: string): void => this.#logger.warn({ file }, m);
      await withFileLock(
        file,
        async () => {
          const cuts = new Map(await cache.read()); // a copy: the cached map is never changed
          let changed = false;
          for (const [key, entry] of batch) {
            if (isOwnForget(entry)) {
              const held = cuts.get(key);
              if (entry.own.some((own) => isRecord(held, own))) changed = cuts.delete(key) || changed;
              continue;
            }
            if (entry !== null && this.#replaced.has(entry)) this.#replaced.set(entry, cuts.get(key));
            changed = cuts.delete(key) || changed;
            if (entry === null) continue;
            cuts.set(key, entry);
            changed = true;
          }
          if (!changed) return; // only forgets of what the file does not hold
          prune(cuts, this.#now(), this.#max, this.#maxPerUser);
          const text = `${JSON.stringify({ cuts: Object.fromEntries(cuts) })}\n`;
          await writeAtomically(file, text);
          cache.wrote(text, cuts);
        },
        { waitMs: Infinity, onTakeover },
      );
      // Written: out of #pending, unless changed again meanwhile (the next round writes that).
      for (const [key, entry] of batch) if (this.#pending.get(key) === entry) this.#pending.delete(key);
    }
  }

  /** Whether `key` holds a version a cut left (`current` is asked only when a record exists). */
  async isCut(key: string, current: () => Promise<FileVersion | undefined>): Promise<boolean> {
    const now = this.#now();
    const shared = await this.#share(key, (s, ...k) => s.get(...k));
    const entries = [this.#memory.get(key), await this.#fromFile(key), shared].filter(
      (e): e is Entry => e !== undefined && now - e.at <= CUT_TTL_MS,
    );
    if (entries.length === 0) return false;
    const v = await current();
    return v !== undefined && entries.some((e) => sameVersion(e, v));
  }

  /** `op` on the shared store (which skips itself while the database is away: db/cut-uploads.ts). */
  async #share<T>(
    key: string,
    op: (s: SharedCutUploads, username: string, path: string) => Promise<T>,
  ): Promise<T | undefined> {
    if (this.#shared === undefined) return undefined;
    try {
      return await op(this.#shared, ...splitCutKey(key));
    } catch (err) {
      this.#logger.warn(
        { err: (err as Error).message },
        'cut uploads not shared through the database: this node refuses alone',
      );
      return undefined;
    }
  }

  async #fromFile(key: string): Promise<Entry | undefined> {
    if (this.#cache === undefined) return undefined;
    try {
      return (await this.#cache.read()).get(key);
    } catch (err) {
      this.#logger.warn({ file: this.file, err: (err as Error).message }, 'cut uploads file not readable');
      return undefined;
    }
  }
}

/** The records of the file's text (none: no file yet), keys of older files made current. */
function parseCuts(file: string, text: string | undefined): ReadonlyMap<string, Entry> {
  const cuts = new Map<string, Entry>();
  if (text === undefined) return cuts;
  const parsed = fileSchema.safeParse(parseStateJson(file, text));
  if (!parsed.success) return cuts; // a damaged file starts over
  for (const [k, e] of Object.entries(parsed.data.cuts)) {
    const key = currentKey(k);
    const held = cuts.get(key);
    if (held === undefined || held.at < e.at) cuts.set(key, e);
  }
  return cuts;
}

/**
 * Drops expired records, then each user's oldest beyond `maxPerUser`, then the oldest beyond `max`
 * (a Map keeps insertion order).
 */
function prune(cuts: Map<string, Entry>, now: number, max: number, maxPerUser: number): void {
  const held = new Map<string, number>();
  for (const [k, e] of cuts) {
    if (now - e.at > CUT_TTL_MS) cuts.delete(k);
    else {
      const user = splitCutKey(k)[0];
      held.set(user, (held.get(user) ?? 0) + 1);
    }
  }
  for (const k of cuts.keys()) {
    const user = splitCutKey(k)[0];
    const n = held.get(user) ?? 0;
    if (n <= maxPerUser) continue;
    held.set(user, n - 1);
    cuts.delete(k);
  }
  for (const k of cuts.keys()) {
    if (cuts.size <= max) break;
    cuts.delete(k);
  }
}
