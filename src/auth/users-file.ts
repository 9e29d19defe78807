import { constants, watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import * as z from 'zod';
import { FerryError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { parseYamlFile } from '../yaml-file.js';
import {
  changedUsernames,
  describeChanges,
  type Account,
  type AccountDirectory,
  type AccountStore,
} from './account.js';
import { writeAtomically, type AtomicWriteOptions } from '../atomic-file.js';
import { withFileLock, type FileLockOptions } from '../file-lock.js';
import { WriteBatches } from '../write-batches.js';
import { makeDirectory, type Owner } from './file-owner.js';
import { accountSchema, firstIssue, fromAccount, toAccount } from './account-schema.js';
import { parseWrittenUsersFile } from './users-file-lines.js';

/**
 * The users file (`<dataDir>/users.yaml`): the embedded account store. `ferry users` edits it
 * (atomically: temp file, fsync, rename; mode 0600, it holds password hashes) and a running server
 * re-reads it when it changes.
 */

const fileSchema = z.object({ users: z.array(accountSchema).default([]) }).strict();
type AccountEntry = z.output<typeof accountSchema>;

const HEADER =
  '# Ferry users file. Managed by `ferry users` (add, set, passwd, rm, import); a running server re-reads it.\n' +
  '# Passwords are stored only as salted hashes: scrypt, or a crypt hash from another server until\n' +
  "# that user's next login. Sizes are bytes, rates bytes per second.\n";

/** Parses the file's text; errors name the file and the key. Relative paths are relative to the file. */
export function parseUsersFile(text: string, file: string): Map<string, Account> {
  const raw = parseWrittenUsersFile(text) ?? parseYamlFile(text, file);
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    // In a file of thousands of accounts, the index alone does not say which one is wrong.
    const name = (i: number): string | undefined => {
      const entry: unknown = (raw as { users?: unknown[] } | null)?.users?.[i];
      const n = (entry as { name?: unknown } | undefined)?.name;
      return typeof n === 'string' ? n : undefined;
    };
    throw new FerryError('ERR_INVALID_OPTION', `${file}: ${firstIssue(parsed.error, name)}`);
  }
  const base = path.dirname(path.resolve(file));
  const accounts = new Map<string, Account>();
  parsed.data.users.forEach((entry, i) => {
    if (accounts.has(entry.name)) {
      throw new FerryError('ERR_INVALID_OPTION', `${file}: users.${i}.name: "${entry.name}" is listed twice`);
    }
    accounts.set(entry.name, toAccount(entry, base));
  });
  return accounts;
}

/** An entry's text in the file (from `  - ` to the next) → its Account. */
export type ParsedEntries = ReadonlyMap<string, Account>;

const ENTRY = '\n  - ';
const WRITTEN_HEAD = /^(?:#[^\n]*\n|\n)*users:$/;

/**
 * parseUsersFile for a running store, given the entries of the last file it read: an entry whose
 * text has not changed keeps its Account (neither parsed nor validated again), so a change to one
 * account of 5,000 costs a few ms, not ~60. A file not in the written form is parsed whole; no
 * file (undefined) has no accounts.
 */
export function reparseUsersFile(
  text: string | undefined,
  file: string,
  last: ParsedEntries,
): { accounts: Map<string, Account>; entries: ParsedEntries } {
  const entries = new Map<string, Account>();
  if (text === undefined) return { accounts: new Map(), entries };
  const whole = () => ({ accounts: parseUsersFile(text, file), entries });
  // The keys kept are this text's slices: no older file's text stays in memory through them.
  const [head = '', ...chunks] = text.split(ENTRY);
  if (!WRITTEN_HEAD.test(head) || chunks.length === 0) return whole();
  const fresh = chunks.filter((c) => !last.has(c));
  const raw =
    fresh.length === 0 ? { users: [] } : parseWrittenUsersFile(`users:${ENTRY}${fresh.join(ENTRY)}`);
  const parsed = raw && fileSchema.safeParse(raw);
  // Anything odd (a problem to word, an entry that is not one) is the whole file's parse to judge.
  if (!parsed?.success || parsed.data.users.length !== fresh.length) return whole();
  const base = path.dirname(path.resolve(file));
  const made = new Map(fresh.map((c, i) => [c, toAccount(parsed.data.users[i] as AccountEntry, base)]));
  const accounts = new Map<string, Account>();
  for (const c of chunks) {
    const a = (made.get(c) ?? last.get(c)) as Account;
    if (accounts.has(a.username)) return whole(); // listed twice: its error
    accounts.set(a.username, a);
    entries.set(c, a);
  }
  return { accounts, entries };
}

/** The accounts in the file; a file that does not exist yet has none. */
export async function readUsersFile(file: string): Promise<Map<string, Account>> {
  const text = await readUsersText(file);
  return text === undefined ? new Map() : parseUsersFile(text, file);
}

/**
 * The file's text; undefined when it does not exist. Opened without blocking and read only when a
 * regular file: a FIFO planted at its path would hang the read (and the server's reloads) for good.
 */
async function readUsersText(file: string): Promise<string | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FerryError(
      'ERR_INVALID_OPTION',
      `${file}: cannot read (${(err as NodeJS.ErrnoException).code}).`,
    );
  }
  try {
    if (!(await fh.stat()).isFile())
      throw new FerryError('ERR_INVALID_OPTION', `${file}: not a regular file.`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/** Replaces the file atomically: readers see the old table or the new one, never a part. */
export async function writeUsersFile(
  file: string,
  accounts: Iterable<Account>,
  newOwner?: Owner,
): Promise<void> {
  await writeUsers(file, accounts, newOwner ? { newOwner } : {});
}

function writeUsers(file: string, accounts: Iterable<Account>, o: AtomicWriteOptions): Promise<boolean> {
  const users = [...accounts].sort((a, b) => a.username.localeCompare(b.username)).map(fromAccount);
  return writeAtomically(file, HEADER + stringifyYaml({ users }), o);
}

/** Tries of a rewrite whose file keeps changing under it (rewritten without pause) before it gives up. */
const REWRITE_TRIES = 5;

/**
 * Under the lock (the caller holds it): read, `change` (in place; `write: false`: nothing to
 * write), write. An editor or a script does not take the lock: a hand edit saved between the read and the rename
 * would be undone (a disabled user enabled again). So the file's signature, taken before the read,
 * is checked again just before the rename; if it changed, the file is read and changed again.
 */
async function rewriteUsersFile<T>(
  file: string,
  change: (accounts: Map<string, Account>) => Promise<{ result: T; write: boolean }>,
  newOwner?: Owner,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const signature = await signatureOf(file);
    const accounts = await readUsersFile(file);
    const { result, write } = await change(accounts);
    if (!write) return result;
    const stillCurrent = async (): Promise<boolean> => (await signatureOf(file)) === signature;
    if (await writeUsers(file, accounts.values(), { ...(newOwner && { newOwner }), stillCurrent }))
      return result;
    if (attempt === REWRITE_TRIES)
      throw new FerryError(
        'ERR_INVALID_OPTION',
        `${file}: changed while being rewritten ${attempt} times; try again.`,
      );
  }
}

/**
 * Read, change, write, holding a lock file so that two `ferry users` commands at once do not lose
 * each other's change. `edit` changes the map in place and returns what the caller wants back.
 */
export async function editUsersFile<T>(
  file: string,
  edit: (accounts: Map<string, Account>) => T | Promise<T>,
  newOwner?: Owner,
): Promise<T> {
  return withFileLock(file, () =>
    rewriteUsersFile(file, async (accounts) => ({ result: await edit(accounts), write: true }), newOwner),
  );
}

/** A migrated hash to replace: only while the account still has `from`. */
export interface HashChange {
  username: string;
  from: string;
  to: string;
}

export interface UsersFileStoreOptions {
  logger?: Logger;
  /** The cheap stat that catches a change the directory watch missed (network filesystems). Default 1 s. */
  pollMs?: number;
  /** How long a file written in place must stay unchanged before it is read. Default 300 ms. */
  quietMs?: number;
}

/**
 * The users file as an AccountStore: loaded at open, re-read when it changes (a watch on its
 * directory, and a stat every pollMs as a fallback). A file that does not parse is logged and the
 * last good table stays in use. A file replaced by a rename (`ferry users`, most editors) is complete
 * and read at once; one written in place (`>`, a script) is read once it has stopped changing for
 * quietMs, since the watch fires at its first write and a part of it would remove the other users.
 */
export class UsersFileStore implements AccountStore {
  #accounts = new Map<string, Account>();
  /** The last file's entries, for reparseUsersFile. */
  #entries: ParsedEntries = new Map();
  #signature = '';
  #reloading: Promise<void> | undefined;
  #again = false;
  #closed = false;
  readonly #listeners = new Set<(names: readonly string[]) => void>();
  readonly #logger: Logger;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  readonly #quietMs: number;
  /** The wait for a file written in place to settle; close() ends it. */
  #quiet: { timer: NodeJS.Timeout; done: () => void } | undefined;

  private constructor(
    readonly file: string,
    options: UsersFileStoreOptions,
  ) {
    this.#logger = options.logger ?? silentLogger;
    this.#quietMs = options.quietMs ?? 300;
  }

  /** Loads the file (refusing one that does not parse) and starts watching it. */
  static async open(file: string, options: UsersFileStoreOptions = {}): Promise<UsersFileStore> {
    const store = new UsersFileStore(path.resolve(file), options);
    const dir = path.dirname(store.file);
    await makeDirectory(dir);
    store.#signature = await signatureOf(store.file);
    ({ accounts: store.#accounts, entries: store.#entries } = reparseUsersFile(
      await readUsersText(store.file),
      store.file,
      new Map(),
    ));
    const base = path.basename(store.file);
    store.#watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name === null || name === base) store.changed();
    });
    store.#watcher.on('error', (err) => store.#logger.warn({ err: err.message }, 'users file watch failed'));
    store.#poll = setInterval(() => store.changed(), options.pollMs ?? 1000);
    store.#poll.unref();
    return store;
  }

  get size(): number {
    return this.#accounts.size;
  }

  async lookup(username: string): Promise<Account | undefined> {
    return this.#accounts.get(username);
  }

  /** Every account (for start-up summaries; logins use lookup). */
  async all(): Promise<Account[]> {
    return [...this.#accounts.values()];
  }

  onChange(listener: (names: readonly string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Under the same lock as `ferry users passwd`; the table is current when it resolves. The
   * upgrades of a burst of first logins go together: one rewrite (and one re-read by every
   * process) for all those waiting, not one of the whole file each.
   */
  async replaceHash(username: string, from: string, to: string): Promise<boolean> {
    return (await this.#hashes.add({ username, from, to })) ?? false;
  }

  readonly #hashes = new WriteBatches<HashChange, boolean>(async (changes) => {
    // Waits for the lock however long `ferry users` holds it: an upgrade is never urgent.
    const done = await new UsersFileDirectory(this.file).replaceHashes(changes, {
      waitMs: Infinity,
      onTakeover: (m) => this.#logger.warn({ file: this.file }, m),
    });
    await this.changed();
    return done;
  });

  /** Re-reads the file if it changed; resolves once the table is current. */
  changed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        if (!(await this.#reload())) this.#again = true;
      } while (this.#again && !this.#closed);
      this.#reloading = undefined;
    })();
    return this.#reloading;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#quiet?.timer);
    this.#quiet?.done();
    this.#listeners.clear();
  }

  /**
   * Applies the file if it changed; false when it changed while being read (read it again). A file
   * that is blank, does not parse or is gone keeps the last good table.
   */
  async #reload(): Promise<boolean> {
    let signature = await signatureOf(this.file);
    if (signature === this.#signature) return true;
    if (!replacedByRename(this.#signature, signature)) {
      this.#logger.debug({ file: this.file }, 'users file is being written: read once it stops changing');
      signature = await this.#settled(signature);
      if (this.#closed || signature === this.#signature) return true;
    }
    let next: { accounts: Map<string, Account>; entries: ParsedEntries };
    try {
      const text = await readUsersText(this.file);
      // Written to while read (a writer that paused longer than quietMs): not a whole file.
      if ((await signatureOf(this.file)) !== signature) return false;
      this.#signature = signature;
      // A blank file is a truncation caught (or a mistake), never "remove every user": that is
      // written `users: []`.
      if (text !== undefined && text.trim() === '') {
        this.#logger.warn({ file: this.file }, 'users file is empty: keeping the last good one');
        return true;
      }
      // Gone after it was read (moved away for a backup, a restore, a `mv` by hand): neither is "no
      // users", which is written `users: []`. A file that was never there is not read at all.
      if (text === undefined) {
        this.#logger.warn({ file: this.file }, 'users file is missing: keeping the last good one');
        return true;
      }
      next = reparseUsersFile(text, this.file, this.#entries);
    } catch (err) {
      this.#signature = signature;
      this.#logger.error(
        { file: this.file, err: (err as Error).message },
        'users file not reloaded: keeping the last good one',
      );
      return true;
    }
    const changed = changedUsernames(this.#accounts, next.accounts);
    const named = describeChanges(this.#accounts, next.accounts, changed);
    this.#accounts = next.accounts;
    this.#entries = next.entries;
    this.#logger.info(
      { file: this.file, users: next.accounts.size, changed: changed.length, ...named },
      'users file reloaded',
    );
    if (changed.length > 0) for (const l of this.#listeners) l(changed);
    return true;
  }

  /** The file's signature once it has stayed the same for quietMs (or the store is closed). */
  async #settled(signature: string): Promise<string> {
    for (;;) {
      await new Promise<void>((done) => {
        this.#quiet = { timer: setTimeout(done, this.#quietMs), done };
      });
      this.#quiet = undefined;
      if (this.#closed) return signature;
      const now = await signatureOf(this.file);
      if (now === signature) return now;
      signature = now;
    }
  }
}

/** What changes when the file is replaced or written (inode, size, time); '' when it is absent. */
async function signatureOf(file: string): Promise<string> {
  const st = await stat(file, { bigint: true }).catch(() => undefined);
  return st ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '';
}

/**
 * True when the file now is another inode than the one loaded: renamed over it, so complete. The
 * same inode written again, or a file that appears or goes, may be a writer half way.
 */
function replacedByRename(before: string, now: string): boolean {
  return before !== '' && now !== '' && before.split(':')[0] !== now.split(':')[0];
}

/**
 * The users file as `ferry users` edits it. Created by root, the file gets `newOwner` (the runAs
 * user of the server reading it), else its directory's owner.
 */
export class UsersFileDirectory implements AccountDirectory {
  constructor(
    readonly where: string,
    private readonly newOwner?: Owner,
  ) {}

  async list(): Promise<Account[]> {
    return [...(await readUsersFile(this.where)).values()];
  }

  async get(username: string): Promise<Account | undefined> {
    return (await readUsersFile(this.where)).get(username);
  }

  add(account: Account): Promise<boolean> {
    return editUsersFile(
      this.where,
      (accounts) => {
        if (accounts.has(account.username)) return false;
        accounts.set(account.username, account);
        return true;
      },
      this.newOwner,
    );
  }

  addAll(accounts: readonly Account[]): Promise<string[]> {
    return editUsersFile(
      this.where,
      (table) => {
        const taken: string[] = [];
        for (const a of accounts) {
          if (table.has(a.username)) taken.push(a.username);
          else table.set(a.username, a);
        }
        return taken;
      },
      this.newOwner,
    );
  }

  put(account: Account): Promise<void> {
    return editUsersFile(
      this.where,
      (accounts) => void accounts.set(account.username, account),
      this.newOwner,
    );
  }

  update<T>(username: string, change: (a: Account) => T | Promise<T>): Promise<{ result: T } | undefined> {
    return withFileLock(this.where, () =>
      rewriteUsersFile(this.where, async (accounts) => {
        const a = accounts.get(username);
        if (!a) return { result: undefined, write: false };
        const before = JSON.stringify(a);
        const result = await change(a);
        // Unchanged (a compare-and-set that found another hash): the file stays as it is.
        return { result: { result }, write: JSON.stringify(a) !== before };
      }),
    );
  }

  /** Each hash that is still its `from` becomes its `to`, in one locked rewrite; which were. */
  replaceHashes(changes: readonly HashChange[], lock?: FileLockOptions): Promise<boolean[]> {
    return withFileLock(
      this.where,
      () =>
        rewriteUsersFile(this.where, async (accounts) => {
          const done = changes.map(({ username, from, to }) => {
            const a = accounts.get(username);
            return a?.passwordHash === from && ((a.passwordHash = to), true);
          });
          return { result: done, write: done.includes(true) };
        }),
      lock,
    );
  }

  remove(username: string): Promise<boolean> {
    return editUsersFile(this.where, (accounts) => accounts.delete(username), this.newOwner);
  }

  async close(): Promise<void> {}
}
