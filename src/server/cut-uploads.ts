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
// too; the file stays this node's record while the database is away.
import { z } from 'zod';
import { writeAtomically } from '../atomic-file.js';
import { withFileLock } from '../file-lock.js';
import { WriteBatches } from '../write-batches.js';
import { silentLogger, type Logger } from '../logger.js';
import type { SharedCutUploads } from '../shared-cut-uploads.js';
import { parseStateJson, readStateFile } from '../state-file.js';

/** A file as it stands: storage identity, size, modification time (ms). */
export interface FileVersion {
  readonly id?: string | undefined;
  readonly size: number;
  readonly modified: number;
}

/** Kept this long: a client resumes within minutes or hours, not weeks. */
export const CUT_TTL_MS = 7 * 24 * 3600_000;
/** At most this many records (the oldest go first): a bounded file, whatever clients do. */
export const MAX_CUTS = 2000;

const entrySchema = z.object({
  id: z.string().optional(),
  size: z.number(),
  modified: z.number(),
  /** When the cut was recorded (ms), for expiry. */
  at: z.number(),
});
type Entry = z.infer<typeof entrySchema>;
const fileSchema = z.object({ cuts: z.record(z.string(), entrySchema).default({}) });

/** The key of a user's file: the same virtual path names different files for different users. */
export function cutKey(username: string, path: string): string {
  return `${username}\u0000${path}`;
}

/** The user name and the path a key was made of. */
function splitCutKey(key: string): [username: string, path: string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

export function sameVersion(e: FileVersion, v: FileVersion): boolean {
  return e.id === v.id && e.size === v.size && e.modified === v.modified;
}

/** A change to the file's records; true when there is anything to write. */
type Change = (cuts: Map<string, Entry>) => boolean;

export class CutUploads {
  /** This process's records (all of them without a file; with one, also those it failed to write). */
  readonly #memory = new Map<string, Entry>();

  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #max: number;
  readonly #shared: SharedCutUploads | undefined;
  readonly #writes = new WriteBatches<Change, void>((changes) => this.#write(changes));

  constructor(
    readonly file: string | undefined,
    o: { logger?: Logger; now?: () => number; max?: number; shared?: SharedCutUploads | undefined } = {},
  ) {
    this.#logger = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#max = o.max ?? MAX_CUTS;
    this.#shared = o.shared;
  }

  /**
   * Remembers that `key` holds `v`, which an upload is replacing (from before its data) or a cut
   * upload left. Resolves once it is in the file too; never rejects.
   */
  async remember(key: string, v: FileVersion): Promise<void> {
    const entry: Entry = {
      ...(v.id === undefined ? {} : { id: v.id }),
      size: v.size,
      modified: v.modified,
      at: this.#now(),
    };
    this.#memory.delete(key);
    this.#memory.set(key, entry);
    prune(this.#memory, entry.at, this.#max);
    await this.#share(key, (s, ...k) => s.put(...k, entry, { ttlMs: CUT_TTL_MS, max: this.#max }));
    await this.#editFile((cuts) => {
      cuts.delete(key);
      cuts.set(key, entry);
      prune(cuts, entry.at, this.#max);
      return true;
    });
  }

  /** The upload to `key` was stored: whatever was remembered for it is gone (memory and file). */
  async forget(key: string): Promise<void> {
    this.#memory.delete(key);
    await this.#share(key, (s, ...k) => s.delete(...k));
    await this.#editFile((cuts) => cuts.delete(key));
  }

  async #editFile(change: Change): Promise<void> {
    if (this.file !== undefined) await this.#writes.add(change);
  }

  /**
   * One read-modify-write of the file under its lock for every change queued meanwhile (100
   * uploads at once are a few writes, not 200). A busy lock is waited for, however long: a change
   * given up would leave a record that refuses a later resume of a complete upload.
   */
  async #write(changes: readonly Change[]): Promise<void[]> {
    const file = this.file;
    if (file === undefined) return [];
    try {
      const onTakeover = (m: string): void => this.#logger.warn({ file }, m);
      await withFileLock(
        file,
        async () => {
          const cuts = new Map(Object.entries(await this.#read(file)));
          let changed = false;
          for (const change of changes) changed = change(cuts) || changed;
          if (changed) await writeAtomically(file, `${JSON.stringify({ cuts: Object.fromEntries(cuts) })}\n`);
        },
        { waitMs: Infinity, onTakeover },
      );
    } catch (err) {
      // Not in the file, still in memory: this process still refuses; the others may not.
      this.#logger.warn(
        { file, changes: changes.length, err: (err as Error).message },
        'cut upload records not written to their file',
      );
    }
    return [];
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
    if (this.file === undefined) return undefined;
    try {
      return (await this.#read(this.file))[key];
    } catch (err) {
      this.#logger.warn({ file: this.file, err: (err as Error).message }, 'cut uploads file not readable');
      return undefined;
    }
  }

  async #read(file: string): Promise<Record<string, Entry>> {
    const text = await readStateFile(file);
    if (text === undefined) return {};
    const parsed = fileSchema.safeParse(parseStateJson(file, text));
    return parsed.success ? parsed.data.cuts : {}; // a damaged file starts over
  }
}

/** Drops expired records, then the oldest beyond `max` (a Map keeps insertion order). */
function prune(cuts: Map<string, Entry>, now: number, max: number): void {
  for (const [k, e] of cuts) if (now - e.at > CUT_TTL_MS) cuts.delete(k);
  for (const k of cuts.keys()) {
    if (cuts.size <= max) break;
    cuts.delete(k);
  }
}
